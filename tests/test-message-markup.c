/* test-message-markup.c: a message's text as the timeline shows it */
#include "config.h"

#include <string.h>

#include "quipu-message-markup.h"
#include "quipu-names.h"

#define MENTION "<span weight=\"bold\" foreground=\"#3584e4\">"

/* Markup a label can take: well-formed once wrapped in one element. */
static void
assert_well_formed (const char *markup)
{
  static const GMarkupParser parser = { 0 };
  g_autoptr(GMarkupParseContext) context = g_markup_parse_context_new (&parser, 0, NULL, NULL);
  g_autofree char *document = g_strdup_printf ("<markup>%s</markup>", markup);
  g_autoptr(GError) error = NULL;

  g_markup_parse_context_parse (context, document, -1, &error);
  g_assert_no_error (error);
  g_markup_parse_context_end_parse (context, &error);
  g_assert_no_error (error);
}

static void
assert_markup (const char *text,
               const char *self_name,
               const char *expected,
               gboolean    expect_mention)
{
  gboolean mentioned = !expect_mention;
  g_autofree char *markup = quipu_message_markup (text, self_name, "#3584e4", &mentioned);

  g_assert_cmpstr (markup, ==, expected);
  g_assert_cmpint (mentioned, ==, expect_mention);
  assert_well_formed (markup);
}

static void
test_escaped (void)
{
  assert_markup ("<b>bold</b> & <span foreground=\"red\">x</span>", "bob",
                 "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;span foreground=&quot;red&quot;&gt;x&lt;/span&gt;",
                 FALSE);
  assert_markup ("", "bob", "", FALSE);
}

static void
test_links (void)
{
  assert_markup ("see https://example.invalid/a?b=1&c=<2>. ok", NULL,
                 "see <a href=\"https://example.invalid/a?b=1&amp;c=\">https://example.invalid/a?b=1&amp;c=</a>"
                 "&lt;2&gt;. ok", FALSE);
  assert_markup ("(http://example.invalid/x)", NULL,
                 "(<a href=\"http://example.invalid/x\">http://example.invalid/x</a>)", FALSE);
}

static void
test_mentions (void)
{
  assert_markup ("hey @Bob, bob-o, bobby and BOB!", "bob",
                 "hey " MENTION "@Bob</span>, bob-o, bobby and " MENTION "BOB</span>!", TRUE);
  /* Not inside a word, nor inside a link; the text around stays escaped. */
  assert_markup ("no malice <alice> https://example.invalid/alice alice", "alice",
                 "no malice &lt;" MENTION "alice</span>&gt; "
                 "<a href=\"https://example.invalid/alice\">https://example.invalid/alice</a> "
                 MENTION "alice</span>", TRUE);
  /* Compared folded: full-width letters, and a name written decomposed. */
  assert_markup ("ｂｏｂ?", "Bob", MENTION "ｂｏｂ</span>?", TRUE);
  assert_markup ("jose\xcc\x81 is here", "José", MENTION "jose\xcc\x81</span> is here", TRUE);
  assert_markup ("josef", "José", "josef", FALSE);
  /* Nobody to mention. */
  assert_markup ("hi bob", NULL, "hi bob", FALSE);
}

static void
test_find_mention (void)
{
  gsize start = 99, end = 99;

  g_assert_true (quipu_name_find_mention ("hi Bob!", "bob", 0, &start, &end));
  g_assert_cmpuint (start, ==, 3);
  g_assert_cmpuint (end, ==, 6);
  g_assert_false (quipu_name_find_mention ("hi Bob!", "bob", 4, NULL, NULL));
  g_assert_true (quipu_name_find_mention ("bob bob", "bob", 1, &start, &end));
  g_assert_cmpuint (start, ==, 4);
  g_assert_false (quipu_name_find_mention ("malice", "alice", 0, NULL, NULL));
  g_assert_false (quipu_name_find_mention ("alice_", "alice", 0, NULL, NULL));
  g_assert_false (quipu_name_find_mention ("bo", "bob", 0, NULL, NULL));
  g_assert_true (quipu_name_find_mention ("STRASSE", "straße", 0, NULL, NULL));
  /* An ASCII letter and a combining ring make the name's "å". */
  g_assert_true (quipu_name_find_mention ("hi A\xcc\x8asa", "åsa", 0, &start, &end));
  g_assert_cmpuint (start, ==, 3);
  g_assert_cmpuint (end, ==, 8);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/quipu/message-markup/escaped", test_escaped);
  g_test_add_func ("/quipu/message-markup/links", test_links);
  g_test_add_func ("/quipu/message-markup/mentions", test_mentions);
  g_test_add_func ("/quipu/message-markup/find-mention", test_find_mention);
  return g_test_run ();
}
