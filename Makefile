# Two commands do all the set-up on a fresh Debian 12 machine:
#   make run    install what is missing, build, start a local quipu-server and
#               open a chat against it
#   make test   install what is missing, build, run the whole test suite
# Variables: BUILD (build dir), QUIPU_USER (chat name for make run),
# WERROR=1 (warnings are errors, as in CI), QUIPU_FUZZ_SECONDS (fuzz time).

BUILD        ?= build
ASAN_BUILD   ?= build-asan
FUZZ_BUILD   ?= build-fuzz
QUIPU_USER   ?= $(or $(USER),$(shell id -un))
WERROR       ?= 0
MESON_FLAGS  := -Dwerror=$(if $(filter 1,$(WERROR)),true,false)

.PHONY: run test deps build test-unit test-asan test-fuzz

deps:
	@.ci/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

run: build
	@.ci/run-local $(BUILD) "$(QUIPU_USER)"

# The main suite, the unit tests under valgrind, unit and integration tests
# again under ASan and UBSan, then the fuzzer; one summary line at the end.
test: build
	@rm -f $(BUILD)/test-summary.txt
	@export SUMMARY=$(BUILD)/test-summary.txt ; \
	 .ci/meson-test $(BUILD) main ; \
	 .ci/meson-test $(BUILD) valgrind ; \
	 .ci/meson-test $(ASAN_BUILD) asan ; \
	 .ci/meson-test $(FUZZ_BUILD) fuzz ; \
	 .ci/summarize $(BUILD)/test-summary.txt
