/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>
#include <sys/resource.h>

#include "feeds/td-feed-parser.h"
#include "feeds/td-feed-json.h"
#include "feeds/td-feed-private.h"
#include "feeds-test-util.h"

/*
 * Table-driven parser tests: each case parses one fixture from
 * tests/fixtures/feeds and checks the JSON form (see feeds-test-util.h).
 */

#define MAX_CHECKS 40

typedef struct
{
  const char *name;
  const char *file;
  const char *base_url;
  const char *content_type;
  const char *checks[MAX_CHECKS];
} ParserCase;

static const ParserCase cases[] = {
  /* ---- RSS 2.0 ---- */
  { "rss20/channel", "rss20-basic.xml", "https://example.com/feed.xml", NULL, {
      "version=rss20",
      "feed.title=Example & Co. News", "feed.title_type=text",
      "feed.link=https://example.com/",
      "feed.subtitle=All the news that fits",
      "feed.language=en-us", "feed.rights=© 2024 Example",
      "feed.authors.0.name=Ed Itor", "feed.authors.0.email=editor@example.com",
      "feed.published=2024-01-01T08:00:00Z", "feed.updated=2024-01-02T08:30:00Z",
      "feed.links#=2", "feed.links.1.rel=self", "feed.links.1.type=application/rss+xml",
      "feed.links.1.href=https://example.com/feed.xml",
      "feed.icon=https://example.com/logo.png",
      "entries#=2", "warnings#=0",
    } },
  { "rss20/item", "rss20-basic.xml", "https://example.com/feed.xml", NULL, {
      "entries.0.title=First post", "entries.0.title_type=text",
      "entries.0.link=https://example.com/posts/1",
      "entries.0.id=post-1",
      "entries.0.summary=<p>Short <b>summary</b></p>", "entries.0.summary_type=html",
      "entries.0.content#=1", "entries.0.content.0.type=html",
      "entries.0.content.0.value=<p>The <em>full</em> text.</p>",
      "entries.0.published=2024-01-01T08:00:00Z", "entries.0.updated!",
      "entries.0.authors.0.name=Jane Doe", "entries.0.authors.0.email=jane@example.com",
      "entries.0.categories#=2", "entries.0.categories.0.term=News",
      "entries.0.categories.0.scheme=https://example.com/tags", "entries.0.categories.1.scheme!",
      "entries.0.enclosures#=1", "entries.0.enclosures.0.url=https://example.com/audio/1.mp3",
      "entries.0.enclosures.0.type=audio/mpeg", "entries.0.enclosures.0.length=12345678",
      "entries.0.links.1.rel=replies", "entries.0.links.2.rel=enclosure",
      "entries.0.links.2.length=12345678",
      "entries.1.published=2024-01-01T04:59:59Z", "entries.1.authors.0.name=John Roe",
      "entries.1.summary=Only a description", "entries.1.content!",
    } },
  { "rss20/guid-permalink", "rss20-guid.xml", NULL, NULL, {
      "entries#=6",
      "entries.0.link=http://example.org/a", "entries.0.id=http://example.org/a",
      "entries.1.link=https://example.org/b",
      "entries.2.link!", "entries.2.id=http://example.org/c",
      "entries.3.link=http://example.org/d-link", "entries.3.id=http://example.org/d-guid",
      "entries.4.link!", "entries.4.id=1234-5678",
      "entries.5.id!", "entries.5.link=http://example.org/f",
    } },
  { "rss20/relative-urls", "rss20-relative.xml", "http://example.com/blog/feed.rss", NULL, {
      "feed.link=http://example.com/",
      "entries.0.link=http://example.com/blog/posts/1.html",
      "entries.0.summary~=href=\"http://example.com/about\"",
      "entries.0.summary~=src='http://example.com/img/x.png'",
      "entries.0.summary~=href=\"#top\"",
      "entries.0.summary~=href=\"mailto:a@b.c\"",
      "entries.0.enclosures.0.url=http://example.com/blog/media/1.ogg",
      "entries.1.link=https://cdn.example.net/base/2.html",
      "entries.1.content.0.value=<img src=\"https://cdn.example.net/base/pic.jpg\">",
    } },
  { "rss20/relative-without-base", "rss20-relative.xml", NULL, NULL, {
      "feed.link=/", "entries.0.link=posts/1.html",
      "entries.1.link=https://cdn.example.net/base/2.html",
    } },
  { "rss20/no-version", "rss-noversion.xml", NULL, NULL, {
      "version=rss20", "feed.title=No version",
      "entries.0.published=2006-11-24T18:00:00Z",
    } },
  { "rss20/inline-html-and-blank", "rss-html-inline.xml", "http://example.com/feed", NULL, {
      "entries.0.summary=<p>Hello <a href=\"http://example.com/x\">world</a><br /></p>",
      "entries.0.summary_type=html",
      "entries.1.summary!", "entries.1.summary_type!",
    } },

  /* ---- RSS 0.9x ---- */
  { "rss091/netscape-entities", "rss091-entities.xml", NULL, NULL, {
      "version=rss09x",
      "feed.title=Café & Crème",
      "feed.subtitle=Netscape entities\u00a0everywhere © 1999",
      "entries.0.title=Résumé — part\u00a01",
      "entries.0.summary=<p>&hellip;</p> ™",
      "warnings#=0",
    } },
  { "rss092/no-title", "rss092.xml", NULL, NULL, {
      "version=rss09x", "entries.0.title!",
      "entries.0.summary=An item with no title",
      "entries.0.enclosures.0.length=5000",
    } },
  { "rss090/netscape-rdf", "rss090.xml", NULL, NULL, {
      "version=rss09x", "feed.title=Mozilla Dot Org",
      "feed.icon=http://www.mozilla.org/images/moz.gif",
      "entries#=2", "entries.1.link=http://www.mozilla.org/bugs/",
    } },

  /* ---- RSS 1.0 ---- */
  { "rss10/rdf", "rss10.xml", NULL, NULL, {
      "version=rss10",
      "feed.title=RDF Site", "feed.language=de",
      "feed.published=2004-01-05T14:10:45Z",
      "feed.icon=http://example.org/logo.png",
      "entries#=2",
      "entries.0.id=http://example.org/item/1",
      "entries.0.authors.0.name=Anna",
      "entries.0.published=2004-01-05T12:00:00Z",
      "entries.0.categories.0.term=rdf",
      "entries.0.content.0.value=<p>Rich</p>",
      "entries.0.summary=First item",
      "entries.1.id=urn:item:2", "entries.1.link=http://example.org/item/2",
      "entries.1.published=2004-01-06T00:00:00Z",
    } },

  /* ---- Atom 1.0 ---- */
  { "atom10/feed", "atom10-full.xml", "http://example.org/feed/", NULL, {
      "version=atom10",
      "feed.title=AT&amp;T <b>news</b>", "feed.title_type=html",
      "feed.subtitle=A <em>great</em> blog",
      "feed.link=http://example.org/",
      "feed.links.0.rel=alternate",
      "feed.links.1.href=http://example.org/blog/feed.atom",
      "feed.id=urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6",
      "feed.updated=2003-12-13T18:30:02Z", "feed.published!",
      "feed.authors.0.name=John Doe", "feed.authors.0.uri=http://example.org/john",
      "feed.language=en",
      "feed.icon=http://example.org/blog/favicon.ico",
      "feed.rights=Copyright 2003 John Doe",
      "entries#=3", "warnings#=1", "warnings.0~=unparseable date",
    } },
  { "atom10/text-constructs", "atom10-full.xml", "http://example.org/feed/", NULL, {
      "entries.0.title=Less: <em>&lt;</em>", "entries.0.title_type=xhtml",
      "entries.0.summary=Some text.", "entries.0.summary_type=text",
      "entries.0.content#=6",
      "entries.0.content.0.type=xhtml",
      "entries.0.content.0.value=<p>See <a href=\"http://example.org/blog/posts/sub/img/a.png\">this</a> <img src=\"http://example.org/blog/posts/sub/b.png\" /></p>",
      "entries.0.content.0.language=fr",
      "entries.0.content.1.type=html",
      "entries.0.content.1.value=<a href=\"http://example.org/blog/posts/x.html\">x</a> &amp; more",
      "entries.0.content.2.type=text", "entries.0.content.2.value=plain <not markup>",
      "entries.0.content.3.type=image/png", "entries.0.content.3.value=hello world",
      "entries.0.content.4.type=text/plain", "entries.0.content.4.value=",
      "entries.0.content.4.src=http://example.org/blog/posts/ext.txt",
      "entries.0.content.5.type=application/vnd.example+xml",
      "entries.0.content.5.value=<thing>data</thing>",
      "entries.2.title=Third",
    } },
  { "atom10/links", "atom10-full.xml", "http://example.org/feed/", NULL, {
      "entries.0.link=http://example.org/blog/posts/1.html",
      "entries.0.links#=4",
      "entries.0.links.0.type=application/pdf",
      "entries.0.links.1.rel=alternate", "entries.0.links.1.title=HTML version",
      "entries.0.links.2.rel=enclosure", "entries.0.links.2.length=1337",
      "entries.0.links.3.rel=related", "entries.0.links.3.href=http://example.org/blog/posts/related",
      "entries.0.enclosures#=1", "entries.0.enclosures.0.length=1337",
      "entries.0.enclosures.0.url=http://example.org/audio/ph34r_my_podcast.mp3",
    } },
  { "atom10/authors-inherit", "atom10-full.xml", "http://example.org/feed/", NULL, {
      "entries.0.authors#=1", "entries.0.authors.0.name=Source Author",
      "entries.1.authors.0.name=John Doe", "entries.1.authors.0.email=johndoe@example.com",
      "entries.2.authors.0.name=Own Author", "entries.2.authors#=1",
      "feed.title=AT&amp;T <b>news</b>",
    } },
  { "atom10/dates-and-lang", "atom10-full.xml", "http://example.org/feed/", NULL, {
      "entries.0.published=2003-12-13T12:29:29Z", "entries.0.updated=2005-07-31T12:29:29Z",
      "entries.1.published=2004-01-01T00:00:00Z", "entries.1.updated=2004-01-01T00:00:00Z",
      "entries.2.updated=null", "entries.2.published!",
      "entries.0.language=fr", "entries.1.language=en",
      "entries.1.content.0.type=text", "entries.1.content.0.value=Plain content",
      "entries.0.categories.0.term=tech", "entries.0.categories.0.scheme=http://example.org/cats/",
      "entries.0.categories.0.label=Technology",
    } },
  { "atom10/prefixed", "atom10-prefixed.xml", NULL, NULL, {
      "version=atom10", "feed.title=Prefixed", "feed.link=http://example.com/",
      "entries.0.title=Hello <b>bold</b> &amp; more", "entries.0.title_type=xhtml",
      "entries.0.updated=2009-12-31T22:00:00Z",
      "entries.0.summary=<i>hi</i>", "entries.0.summary_type=html",
    } },
  { "atom10/display-link", "atom10-links.xml", NULL, NULL, {
      "entries.0.link=http://example.com/1.html",
      "entries.1.link=http://example.com/2", "entries.1.links.1.rel=alternate",
      "entries.1.links.0.rel=edit",
      "entries.2.link!", "entries.2.links.0.rel=replies",
    } },
  { "atom10/xml-base-chain", "atom10-xmlbase.xml", "http://example.com/feeds/atom/feed.xml", NULL, {
      "feed.link=http://example.com/feeds/root/index.html",
      "entries.0.link=http://example.com/feeds/root/a/b/c.html",
      "entries.0.authors.0.uri=http://example.com/feeds/root/a/me",
      "entries.0.summary=<a href=\"http://other.example/x/y\">y</a>",
      "entries.0.content.0.value=<a href=\"http://example.com/feeds/root/a/d/e.html\">e</a><a href=\"http://abs.example/f\">f</a>",
    } },

  /* ---- Atom 0.3 ---- */
  { "atom03/feed", "atom03.xml", NULL, NULL, {
      "version=atom03",
      "feed.title=dive into &lt;mark&gt;", "feed.title_type=html",
      "feed.subtitle=A lot of effort went into making this effortless",
      "feed.link=http://example.org/",
      "feed.updated=2003-12-13T18:30:02Z",
      "feed.rights=Copyright (c) 2003, Mark Pilgrim",
      "feed.authors.0.uri=http://example.org/", "feed.authors.0.email=f8dy@example.com",
      "entries.0.published=2003-12-13T12:29:29Z", "entries.0.updated=2003-12-13T18:30:02Z",
      "entries.0.content#=3",
      "entries.0.content.0.type=xhtml",
      "entries.0.content.0.value=<p><i>[Update: The Atom draft is finished.]</i></p>",
      "entries.0.content.0.language=en-us",
      "entries.0.content.1.type=html", "entries.0.content.1.value=<p>escaped</p>",
      "entries.0.content.2.type=text", "entries.0.content.2.value=base64 text",
      "entries.0.authors.0.name=Mark Pilgrim",
    } },

  /* ---- JSON Feed ---- */
  { "json11/feed", "json11.json", "https://example.org/fetched/feed.json", NULL, {
      "version=json11",
      "feed.title=My JSON Feed", "feed.title_type=text",
      "feed.link=https://example.org/",
      "feed.subtitle=A feed in JSON",
      "feed.links#=3", "feed.links.1.rel=self", "feed.links.1.href=https://example.org/feeds/feed.json",
      "feed.links.2.rel=next",
      "feed.icon=https://example.org/feeds/favicon.ico",
      "feed.authors.0.name=Brent", "feed.authors.0.uri=https://example.org/brent",
      "feed.language=en-US",
      "entries#=3",
    } },
  { "json11/items", "json11.json", "https://example.org/fetched/feed.json", NULL, {
      "entries.0.id=2", "entries.0.title=Second",
      "entries.0.link=https://example.org/feeds/posts/2",
      "entries.0.links.1.rel=related", "entries.0.links.1.href=https://elsewhere.example/story",
      "entries.0.content#=2",
      "entries.0.content.0.type=html",
      "entries.0.content.0.value=<p>Hello, <a href=\"https://example.org/about\">world</a>.</p>",
      "entries.0.content.1.type=text", "entries.0.content.1.value=Hello, world.",
      "entries.0.summary=A greeting", "entries.0.summary_type=text",
      "entries.0.published=2020-03-01T18:00:00Z", "entries.0.updated=2020-03-02T10:00:00Z",
      "entries.0.categories#=2", "entries.0.categories.1.term=test",
      "entries.0.language=en-GB",
      "entries.0.enclosures#=2", "entries.0.enclosures.0.url=https://example.org/feeds/audio/2.m4a",
      "entries.0.enclosures.0.length=89970236", "entries.0.enclosures.1.length!",
      "entries.0.authors.0.name=Brent",
      "entries.1.title!", "entries.1.published=null", "entries.1.authors.0.name=Brent",
      "entries.2.authors#=1", "entries.2.authors.0.name=Guest",
      "warnings#=1", "warnings.0~=not a date",
    } },
  { "json10/feed", "json10.json", NULL, NULL, {
      "version=json10",
      "feed.authors.0.name=Old Style",
      "entries#=3",
      "entries.0.id=42", "entries.0.published=2017-05-17T08:02:12Z",
      "entries.0.authors.0.name=Old Style",
      "entries.1.id=4.5", "entries.1.authors.0.name=Item Author",
      "entries.2.id!",
    } },
  { "json/relative-to-fetch-url", "json-nofeedurl.json", "https://host.example/dir/feed.json", NULL, {
      "feed.link=https://host.example/home",
      "entries.0.link=https://host.example/dir/a.html",
      "entries.0.content.0.value=<img src=\"https://host.example/dir/i.png\">",
    } },
  { "json/no-version", "json-noversion.json", NULL, NULL, {
      "version=json11", "warnings.0~=version", "entries.0.id=x",
    } },
  { "json/utf16", "json-utf16.json", NULL, NULL, {
      "version=json11", "feed.title=UTF-16 JSON é", "entries.0.content.0.value=€",
    } },

  /* ---- Malformed: recovered with a warning ---- */
  { "malformed/unclosed-tag", "malformed-unclosed.xml", NULL, NULL, {
      "version=rss20", "feed.title=Broken feed",
      "entries.0.title=Recovered item",
      "warnings.0~=not well-formed: ", "warnings.0~=(line ",
    } },
  { "malformed/undefined-entity", "malformed-entity.xml", NULL, NULL, {
      "feed.title=Undefined  entity", "entries.0.title=still here",
      "warnings.0~=not well-formed: ", "warnings.0~=bogus",
    } },

  /* ---- Hostile ---- */
  { "hostile/xxe", "xxe.xml", NULL, NULL, {
      "feed.title=XXE  test", "feed.subtitle=internal entity text",
      "entries.0.title!", "entries.0.id!",
      "entries.0.summary=before  after",
      "entries.0.categories.0.scheme=internal entity text",
    } },
  { "hostile/xxe-parameter", "xxe-parameter.xml", NULL, NULL, {
      "feed.title=parameter entities",
    } },
  { "hostile/external-dtd", "external-dtd.xml", NULL, NULL, {
      "feed.title=external DTD is not loaded", "warnings#=0",
    } },

  /* ---- Encodings: BOM > XML declaration > HTTP charset ---- */
  { "encoding/utf16le-bom", "enc-utf16le-bom.xml", NULL, NULL, {
      "feed.title=Café “quoted” €5", "entries.0.title=naïve", "warnings#=0",
    } },
  { "encoding/utf16be-bom", "enc-utf16be-bom.xml", NULL, NULL, {
      "feed.title=Café “quoted” €5", "entries.0.title=naïve",
    } },
  { "encoding/utf8-bom", "enc-utf8-bom.xml", NULL, "text/xml; charset=iso-8859-1", {
      "feed.title=Café “quoted” €5",
    } },
  { "encoding/bom-beats-declaration", "enc-bom-beats-decl.xml", NULL, NULL, {
      "feed.title=Café “quoted” €5", "entries.0.title=naïve",
    } },
  { "encoding/latin1-declared-cp1252-bytes", "enc-latin1-cp1252.xml", NULL, NULL, {
      "feed.title=Café “quoted” €5", "entries.0.title=naïve",
    } },
  { "encoding/http-charset", "enc-http-charset.xml", NULL, "application/rss+xml; charset=ISO-8859-1", {
      "feed.title=Café \"quoted\" EUR 5", "entries.0.title=naïve",
    } },
  { "encoding/declaration-beats-http", "enc-decl-beats-http.xml", NULL, "application/rss+xml; charset=iso-8859-1", {
      "feed.title=Café “quoted” €5",
    } },
  { "encoding/invalid-utf8-repaired", "enc-bad-utf8.xml", NULL, NULL, {
      "feed.title=Café “quoted” €5", "entries.0.title=naïve",
      "warnings.0~=not valid UTF-8",
    } },
  { "encoding/koi8r", "enc-koi8r.xml", NULL, NULL, {
      "feed.title=Новости",
    } },
};

static void
test_parser_case (gconstpointer data)
{
  const ParserCase *c = data;
  g_autoptr(GBytes) bytes = feeds_load_fixture (c->file);
  g_autoptr(GError) error = NULL;
  g_autoptr(TdFeed) feed = NULL;
  g_autoptr(JsonNode) root = NULL;
  gsize len;
  const char *text = g_bytes_get_data (bytes, &len);

  feed = td_feed_parse (text, len, c->base_url, c->content_type, &error);
  g_assert_no_error (error);
  g_assert_nonnull (feed);

  root = td_feed_to_json_node (feed);
  for (guint i = 0; i < MAX_CHECKS && c->checks[i] != NULL; i++)
    feeds_json_check (root, c->checks[i]);
}

/* ---- Documents nothing can be read from ---- */

typedef struct
{
  const char *name;
  const char *file;
  int         code;
  const char *message;
} ErrorCase;

static const ErrorCase error_cases[] = {
  { "empty", "empty.xml", TD_FEED_ERROR_EMPTY, "empty" },
  { "garbage", "garbage.txt", TD_FEED_ERROR_INVALID, "not well-formed: " },
  { "html-page", "not-a-feed.html", TD_FEED_ERROR_NOT_A_FEED, "<html>" },
  { "sitemap", "not-a-feed.xml", TD_FEED_ERROR_NOT_A_FEED, "<urlset>" },
  { "json-syntax", "json-invalid.json", TD_FEED_ERROR_INVALID, "not valid JSON" },
  { "json-not-a-feed", "json-notfeed.json", TD_FEED_ERROR_NOT_A_FEED, "JSON Feed" },
};

static void
test_error_case (gconstpointer data)
{
  const ErrorCase *c = data;
  g_autoptr(GBytes) bytes = feeds_load_fixture (c->file);
  g_autoptr(GError) error = NULL;
  g_autoptr(TdFeed) feed = NULL;
  gsize len;
  const char *text = g_bytes_get_data (bytes, &len);

  feed = td_feed_parse (len ? text : "", len, NULL, NULL, &error);
  g_assert_null (feed);
  g_assert_error (error, TD_FEED_ERROR, c->code);
  g_assert_nonnull (strstr (error->message, c->message));
}

/* ---- Hostile documents with limits to check ---- */

static glong
max_rss_kib (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

static gsize
total_text (const TdFeed *feed)
{
  gsize n = 0;

  for (guint i = 0; i <= feed->entries->len; i++)
    {
      const TdFeedEntry *e = i == 0 ? feed->info : g_ptr_array_index (feed->entries, i - 1);

      n += e->title ? strlen (e->title) : 0;
      n += e->summary ? strlen (e->summary) : 0;
      n += e->subtitle ? strlen (e->subtitle) : 0;
      for (guint j = 0; e->content != NULL && j < e->content->len; j++)
        n += strlen (((TdFeedContent *) g_ptr_array_index (e->content, j))->value);
    }
  return n;
}

static void
test_billion_laughs (void)
{
  g_autoptr(GBytes) bytes = feeds_load_fixture ("bomb.xml");
  g_autoptr(GError) error = NULL;
  g_autoptr(TdFeed) feed = NULL;
  gint64 start = g_get_monotonic_time ();
  glong rss_before = max_rss_kib ();
  gsize len;
  const char *text = g_bytes_get_data (bytes, &len);

  feed = td_feed_parse (text, len, NULL, NULL, &error);

  /* Fast and small: a full expansion would be 3 GB of "lol". */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (max_rss_kib () - rss_before, <, 64 * 1024);

  if (feed != NULL)
    {
      g_assert_cmpuint (total_text (feed), <=, TD_FEED_MAX_ENTITY_EXPANSION + 4096);
      g_assert_cmpuint (feed->warnings->len, >=, 1);
      g_assert_nonnull (strstr (g_ptr_array_index (feed->warnings, 0), "not well-formed"));
    }
  else
    g_assert_error (error, TD_FEED_ERROR, TD_FEED_ERROR_INVALID);
}

static void
test_quadratic_blowup (void)
{
  g_autoptr(GBytes) bytes = feeds_load_fixture ("quadratic.xml");
  g_autoptr(GError) error = NULL;
  g_autoptr(TdFeed) feed = NULL;
  gint64 start = g_get_monotonic_time ();
  gsize len;
  const char *text = g_bytes_get_data (bytes, &len);

  feed = td_feed_parse (text, len, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (feed);

  /* 20 items x 400 references x 60 KB would be 480 MB of text; the
   * expansion budget keeps the whole document near 1 MiB. */
  g_assert_cmpuint (total_text (feed), <=, TD_FEED_MAX_ENTITY_EXPANSION + 4096);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (feed->entries->len, ==, 20);
}

static void
test_xxe_reads_nothing (void)
{
  g_autoptr(GBytes) bytes = feeds_load_fixture ("xxe.xml");
  g_autoptr(TdFeed) feed = NULL;
  g_autofree char *json = NULL;
  gsize len;
  const char *text = g_bytes_get_data (bytes, &len);

  feed = td_feed_parse (text, len, NULL, NULL, NULL);
  g_assert_nonnull (feed);
  json = td_feed_to_json (feed);

  /* Nothing of /etc/passwd anywhere in the output. */
  g_assert_null (strstr (json, "root:"));
  g_assert_null (strstr (json, "/bin/"));
}

static void
test_size_cap (void)
{
  gsize len = 100 * 1024 * 1024;
  g_autofree char *huge = g_malloc (len);
  g_autoptr(GError) error = NULL;
  g_autoptr(TdFeed) feed = NULL;
  gint64 start;

  memset (huge, ' ', len);
  memcpy (huge, "<rss>", 5);

  start = g_get_monotonic_time ();
  feed = td_feed_parse (huge, len, NULL, NULL, &error);
  g_assert_null (feed);
  g_assert_error (error, TD_FEED_ERROR, TD_FEED_ERROR_TOO_LARGE);
  /* Refused before looking at the bytes. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 10);

  /* Exactly at the limit is allowed through to the parser. */
  g_clear_error (&error);
  feed = td_feed_parse (huge, TD_FEED_MAX_DOCUMENT_SIZE, NULL, NULL, &error);
  g_assert_true (feed != NULL || !g_error_matches (error, TD_FEED_ERROR, TD_FEED_ERROR_TOO_LARGE));
}

static void
test_deep_xml (void)
{
  GString *doc = g_string_new ("<rss version=\"2.0\"><channel><title>deep</title><item><description>");
  g_autoptr(GError) error = NULL;
  g_autoptr(TdFeed) feed = NULL;

  for (int i = 0; i < 100000; i++)
    g_string_append (doc, "<d>");
  g_string_append (doc, "x");

  feed = td_feed_parse (doc->str, doc->len, NULL, NULL, &error);
  /* libxml2 stops at its depth limit; we recover what came before. */
  g_assert_nonnull (feed);
  g_assert_cmpstr (feed->info->title, ==, "deep");
  g_assert_cmpuint (feed->warnings->len, >=, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (feed->warnings, 0), "not well-formed"));
  g_string_free (doc, TRUE);
}

static void
test_deep_json (void)
{
  GString *doc = g_string_new ("{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"x\",\"items\":[],\"_x\":");
  g_autoptr(GError) error = NULL;
  g_autoptr(TdFeed) feed = NULL;

  for (int i = 0; i < 1000000; i++)
    g_string_append_c (doc, '[');

  feed = td_feed_parse (doc->str, doc->len, NULL, NULL, &error);
  g_assert_null (feed);
  g_assert_error (error, TD_FEED_ERROR, TD_FEED_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "nested"));
  g_string_free (doc, TRUE);
}

/* json-glib 1.6 reads "{...}{...}" as a document (keeping the last
 * value and leaking the first): a second top-level value is refused,
 * while brackets and quotes inside strings and trailing white space are
 * not mistaken for one. */
static void
test_json_one_value (void)
{
  static const char *const refused[] = {
    "{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"a\",\"items\":[]}"
    "{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"b\",\"items\":[]}",
    "[][]]]]]s]c",
    "[] []",
    "null {\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"b\",\"items\":[]}",
    "\"a\" {}",
  };
  const char *accepted =
    "\n{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"a }{ \\\" ][\","
    "\"items\":[{\"id\":\"1\",\"content_text\":\"{}{}\"}]}\r\n\t ";

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(TdFeed) feed = td_feed_parse (refused[i], strlen (refused[i]), NULL, NULL, &error);

      g_assert_null (feed);
      g_assert_nonnull (error);
      if (refused[i][0] == '{')
        {
          g_assert_error (error, TD_FEED_ERROR, TD_FEED_ERROR_INVALID);
          g_assert_nonnull (strstr (error->message, "more than one top-level value"));
        }
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(TdFeed) feed = td_feed_parse (accepted, strlen (accepted), NULL, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (feed->info->title, ==, "a }{ \" ][");
    g_assert_cmpuint (feed->entries->len, ==, 1);
  }
}

static void
test_entry_limit (void)
{
  GString *doc = g_string_new ("<rss version=\"2.0\"><channel><title>many</title>");
  g_autoptr(TdFeed) feed = NULL;

  for (int i = 0; i < TD_FEED_MAX_ENTRIES + 5; i++)
    g_string_append_printf (doc, "<item><guid>%d</guid></item>", i);
  g_string_append (doc, "</channel></rss>");

  feed = td_feed_parse (doc->str, doc->len, NULL, NULL, NULL);
  g_assert_nonnull (feed);
  g_assert_cmpuint (feed->entries->len, ==, TD_FEED_MAX_ENTRIES);
  g_assert_cmpstr (((TdFeedEntry *) g_ptr_array_index (feed->entries, 0))->id, ==, "0");
  g_assert_nonnull (strstr (g_ptr_array_index (feed->warnings, 0), "dropped"));
  g_string_free (doc, TRUE);
}

static void
test_long_field_cut (void)
{
  GString *doc = g_string_new ("<rss version=\"2.0\"><channel><title>");
  g_autoptr(TdFeed) feed = NULL;

  /* Multi-byte characters, so the cut must land on a boundary. */
  for (int i = 0; i < TD_FEED_MAX_FIELD_LENGTH; i++)
    g_string_append (doc, "é");
  g_string_append (doc, "</title></channel></rss>");

  feed = td_feed_parse (doc->str, doc->len, NULL, NULL, NULL);
  g_assert_nonnull (feed);
  g_assert_cmpuint (strlen (feed->info->title), <=, TD_FEED_MAX_FIELD_LENGTH);
  g_assert_true (g_utf8_validate (feed->info->title, -1, NULL));
  g_assert_nonnull (strstr (g_ptr_array_index (feed->warnings, 0), "cut"));
  g_string_free (doc, TRUE);
}

/* Every prefix of a valid feed parses or fails cleanly: no crash, no
 * leak (under ASan), and never a feed with invalid UTF-8. */
static void
test_truncated_prefixes (void)
{
  const char *files[] = { "rss20-basic.xml", "atom10-full.xml", "json11.json", "rss10.xml" };

  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_autoptr(GBytes) bytes = feeds_load_fixture (files[f]);
      gsize len;
      const char *text = g_bytes_get_data (bytes, &len);

      for (gsize cut = 1; cut < len; cut += 7)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(TdFeed) feed = td_feed_parse (text, cut, "http://example.com/", NULL, &error);

          if (feed != NULL)
            {
              g_autofree char *json = td_feed_to_json (feed);
              g_assert_true (g_utf8_validate (json, -1, NULL));
            }
          else
            g_assert_nonnull (error);
        }
    }
}

/* The struct API directly, for what the JSON form does not show. */
static void
test_struct_api (void)
{
  g_autoptr(GBytes) bytes = feeds_load_fixture ("rss20-basic.xml");
  g_autoptr(TdFeed) feed = NULL;
  TdFeedEntry *entry;
  gsize len;
  const char *text = g_bytes_get_data (bytes, &len);

  feed = td_feed_parse (text, len, NULL, "application/rss+xml", NULL);
  g_assert_nonnull (feed);
  g_assert_cmpint (feed->version, ==, TD_FEED_VERSION_RSS20);
  entry = g_ptr_array_index (feed->entries, 0);
  g_assert_cmpint (entry->title_type, ==, TD_FEED_TEXT_PLAIN);
  g_assert_cmpint (entry->summary_type, ==, TD_FEED_TEXT_HTML);
  g_assert_cmpint (entry->published, ==, 1704096000);
  g_assert_cmpint (entry->updated, ==, TD_FEED_DATE_NONE);
  g_assert_cmpint (td_feed_entry_get_date (entry), ==, 1704096000);
  g_assert_cmpint (((TdFeedLink *) g_ptr_array_index (entry->links, 0))->length, ==, -1);
}

/* Workers parse in parallel: the per-thread parser contexts, the shared
 * entity table and libxml2's error hooks must not get in each other's
 * way. Each thread checks its own results. */
static gpointer
parse_in_thread (gpointer user_data)
{
  const char *files[] = { "rss091-entities.xml", "atom10-full.xml", "malformed-unclosed.xml",
                          "json11.json", "enc-latin1-cp1252.xml", "bomb.xml" };
  guint seed = GPOINTER_TO_UINT (user_data);

  for (guint round = 0; round < 30; round++)
    {
      const char *name = files[(round + seed) % G_N_ELEMENTS (files)];
      g_autoptr(GBytes) bytes = feeds_load_fixture (name);
      g_autoptr(TdFeed) feed = NULL;
      gsize len;
      const char *text = g_bytes_get_data (bytes, &len);

      feed = td_feed_parse (text, len, "http://example.org/feed/", NULL, NULL);
      g_assert_nonnull (feed);
      if (g_str_equal (name, "rss091-entities.xml"))
        g_assert_cmpstr (feed->info->title, ==, "Café & Crème");
      else if (g_str_equal (name, "malformed-unclosed.xml") || g_str_equal (name, "bomb.xml"))
        g_assert_nonnull (strstr (g_ptr_array_index (feed->warnings, 0), "not well-formed"));
      else if (g_str_equal (name, "atom10-full.xml"))
        g_assert_cmpuint (feed->entries->len, ==, 3);
    }
  return NULL;
}

static void
test_threads (void)
{
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("parse", parse_in_thread, GUINT_TO_POINTER (i));
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
}

/* RFC 3986 §5.4: every normal and abnormal example. */
static void
test_resolve_rfc3986 (void)
{
  const char *base = "http://a/b/c/d;p?q";
  const char *examples[][2] = {
    { "g:h", "g:h" }, { "g", "http://a/b/c/g" }, { "./g", "http://a/b/c/g" },
    { "g/", "http://a/b/c/g/" }, { "/g", "http://a/g" }, { "//g", "http://g" },
    { "?y", "http://a/b/c/d;p?y" }, { "g?y", "http://a/b/c/g?y" },
    { "#s", "http://a/b/c/d;p?q#s" }, { "g#s", "http://a/b/c/g#s" },
    { "g?y#s", "http://a/b/c/g?y#s" }, { ";x", "http://a/b/c/;x" },
    { "g;x", "http://a/b/c/g;x" }, { "g;x?y#s", "http://a/b/c/g;x?y#s" },
    { "", "http://a/b/c/d;p?q" }, { ".", "http://a/b/c/" }, { "./", "http://a/b/c/" },
    { "..", "http://a/b/" }, { "../", "http://a/b/" }, { "../g", "http://a/b/g" },
    { "../..", "http://a/" }, { "../../", "http://a/" }, { "../../g", "http://a/g" },
    /* abnormal */
    { "../../../g", "http://a/g" }, { "../../../../g", "http://a/g" },
    { "/./g", "http://a/g" }, { "/../g", "http://a/g" }, { "g.", "http://a/b/c/g." },
    { ".g", "http://a/b/c/.g" }, { "g..", "http://a/b/c/g.." }, { "..g", "http://a/b/c/..g" },
    { "./../g", "http://a/b/g" }, { "./g/.", "http://a/b/c/g/" }, { "g/./h", "http://a/b/c/g/h" },
    { "g/../h", "http://a/b/c/h" }, { "g;x=1/./y", "http://a/b/c/g;x=1/y" },
    { "g;x=1/../y", "http://a/b/c/y" }, { "g?y/./x", "http://a/b/c/g?y/./x" },
    { "g?y/../x", "http://a/b/c/g?y/../x" }, { "g#s/./x", "http://a/b/c/g#s/./x" },
    { "g#s/../x", "http://a/b/c/g#s/../x" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (examples); i++)
    {
      g_autofree char *resolved = _td_feed_resolve_url (base, examples[i][0]);
      g_autofree char *general = g_uri_resolve_relative (base, examples[i][0], G_URI_FLAGS_ENCODED, NULL);

      g_assert_cmpstr (resolved, ==, examples[i][1]);
      g_assert_cmpstr (resolved, ==, general);
    }

  /* A base without a path, a base that is not hierarchical (left to
   * GLib's resolver), no base. */
  {
    g_autofree char *a = _td_feed_resolve_url ("http://host", "x/y");
    g_autofree char *b = _td_feed_resolve_url ("urn:isbn:123", "x");
    g_autofree char *c = _td_feed_resolve_url (NULL, "x");
    g_autofree char *d = _td_feed_resolve_url ("not a url", "x");

    g_assert_cmpstr (a, ==, "http://host/x/y");
    g_assert_nonnull (b);
    g_assert_cmpstr (c, ==, "x");
    g_assert_cmpstr (d, ==, "x");
  }

  /* Results GLib parses but will not write out (it warns, a fatal
   * warning in tests): no host and a path starting with "//", a host
   * that is not one and a path without '/'. The reference stays as it
   * is (found by fuzzing feed-discover and feed). */
  {
    static const char *const refs[][3] = {
      { "a:b", ".//c", ".//c" },
      { "a:/b/", "..//c", "..//c" },
      { "http:x", ".//y", ".//y" },
      { "https://example.org/page/", "//b\x8b\x8f\x8c\xc5\xd0\xd0" "blogamp<.xml",
        "//b%8B%8F%8C%C5%D0%D0blogamp<.xml" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (refs); i++)
      {
        g_autofree char *r = _td_feed_resolve_url (refs[i][0], refs[i][1]);

        g_assert_cmpstr (r, ==, refs[i][2]);
      }
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/feed-parser/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_parser_case);
    }
  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/feed-parser/error/%s", error_cases[i].name);
      g_test_add_data_func (path, &error_cases[i], test_error_case);
    }

  g_test_add_func ("/td/feed-parser/hostile/billion-laughs", test_billion_laughs);
  g_test_add_func ("/td/feed-parser/hostile/quadratic-blowup", test_quadratic_blowup);
  g_test_add_func ("/td/feed-parser/hostile/xxe-reads-nothing", test_xxe_reads_nothing);
  g_test_add_func ("/td/feed-parser/hostile/size-cap-100mb", test_size_cap);
  g_test_add_func ("/td/feed-parser/hostile/deep-xml", test_deep_xml);
  g_test_add_func ("/td/feed-parser/hostile/deep-json", test_deep_json);
  g_test_add_func ("/td/feed-parser/hostile/json-one-value", test_json_one_value);
  g_test_add_func ("/td/feed-parser/limits/entries", test_entry_limit);
  g_test_add_func ("/td/feed-parser/limits/long-field", test_long_field_cut);
  g_test_add_func ("/td/feed-parser/truncated-prefixes", test_truncated_prefixes);
  g_test_add_func ("/td/feed-parser/struct-api", test_struct_api);
  g_test_add_func ("/td/feed-parser/resolve-rfc3986", test_resolve_rfc3986);
  g_test_add_func ("/td/feed-parser/threads", test_threads);

  return g_test_run ();
}
