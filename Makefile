# Two commands do all the set-up on a fresh Debian 12 machine:
#   make run    install what is missing, build, start a local quipu-server and
#               open the desktop app logged in to it (a terminal chat when
#               there is no display)
#   make test   install what is missing, build, run the whole test suite
#   make flatpak  build the Flatpak, install it and write a .flatpak bundle
#               (no Flathub: a stand-in GNOME runtime in a private installation)
# Variables: BUILD (build dir), QUIPU_USER (chat name for make run),
# WERROR=1 (warnings are errors, as in CI), QUIPU_FUZZ_SECONDS (fuzz time).

BUILD        ?= build
ASAN_BUILD   ?= build-asan
FUZZ_BUILD   ?= build-fuzz
QUIPU_USER   ?= $(or $(USER),$(shell id -un))
WERROR       ?= 0
MESON_FLAGS  := -Dwerror=$(if $(filter 1,$(WERROR)),true,false)

.PHONY: run test deps build flatpak test-unit test-asan test-fuzz

deps:
	@.ci/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

# With a display: the Flatpak'd app (built and installed first); without one,
# the terminal chat.
run: build
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then .ci/install-deps --flatpak && flatpak/build $(BUILD); fi
	@.ci/run-local $(BUILD) "$(QUIPU_USER)"

# Where a `flathub` remote is configured: Flathub's org.gnome.Platform and the
# user's installation. Elsewhere: the stand-in runtime (flatpak/make-local-sdk)
# and the private installation FLATPAK_USER_DIR=~/.cache/quipu/flatpak.
flatpak:
	@.ci/install-deps --flatpak
	flatpak/build $(BUILD)

# The main suite, the unit tests under valgrind, unit and integration tests
# again under ASan and UBSan, the fuzzer, then the Flatpak suite (it builds
# the Flatpak); one summary line at the end.
test: build
	@rm -f $(BUILD)/test-summary.txt
	@export SUMMARY=$(BUILD)/test-summary.txt ; \
	 .ci/meson-test $(BUILD) main ; \
	 .ci/meson-test $(BUILD) valgrind ; \
	 .ci/meson-test $(ASAN_BUILD) asan ; \
	 .ci/meson-test $(FUZZ_BUILD) fuzz ; \
	 .ci/meson-test $(BUILD) flatpak ; \
	 .ci/summarize $(BUILD)/test-summary.txt
