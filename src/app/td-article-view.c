/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-article-view"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "app/td-article-view.h"
#include "feeds/td-html-text.h"

#if HAVE_WEBKIT
#include <webkit/webkit.h>
#endif

/*
 * The article pane without a web engine: HTML from a feed is untrusted,
 * so it is only ever read, never run. td_html_to_text() (src/feeds, no
 * GTK, fuzzed) turns it into text with styles for headings, emphasis,
 * code, quotes, lists and links, which become tags here. Images,
 * scripts, styles, frames and forms are dropped (an image leaves its alt
 * text), so nothing remote is ever fetched. Links open in the browser.
 * With WebKitGTK (HAVE_WEBKIT) the page is shown in a web view instead
 * (see web_view_setup); the text is still rendered, hidden, for
 * td_article_view_get_text.
 */

struct _TdArticleView
{
  AdwBin         parent_instance;

  /* Template widgets */
  GtkStack          *stack;
  GtkScrolledWindow *scroller;
  GtkLabel          *title_label;
  GtkLabel          *meta_label;
  GtkButton         *open_button;
  GtkTextView       *text_view;
  GtkLabel          *enclosures_label;
  GtkBox            *enclosures_box;

  /* Owned */
  char              *link;

#if HAVE_WEBKIT
  /* Shows the article when WebKitGTK is there; the text view is then
   * hidden but still holds the sanitized text (td_article_view_get_text). */
  WebKitWebView     *web_view;
  char              *web_html;      /* the content last loaded */
  char              *web_base_uri;
#endif
};

G_DEFINE_FINAL_TYPE (TdArticleView, td_article_view, ADW_TYPE_BIN)

/* ------------------------------------------------------------------ */
/* HTML to text                                                        */

static GtkTextTag *
ensure_tag (GtkTextBuffer *buffer,
            const char    *name)
{
  GtkTextTagTable *table = gtk_text_buffer_get_tag_table (buffer);
  GtkTextTag *tag = gtk_text_tag_table_lookup (table, name);

  if (tag != NULL)
    return tag;

  if (g_str_equal (name, "bold"))
    tag = gtk_text_buffer_create_tag (buffer, name, "weight", PANGO_WEIGHT_BOLD, NULL);
  else if (g_str_equal (name, "italic"))
    tag = gtk_text_buffer_create_tag (buffer, name, "style", PANGO_STYLE_ITALIC, NULL);
  else if (g_str_equal (name, "heading"))
    tag = gtk_text_buffer_create_tag (buffer, name, "weight", PANGO_WEIGHT_BOLD,
                                      "scale", 1.25, "pixels-above-lines", 8, NULL);
  else if (g_str_equal (name, "mono"))
    tag = gtk_text_buffer_create_tag (buffer, name, "family", "monospace", NULL);
  else if (g_str_equal (name, "quote"))
    tag = gtk_text_buffer_create_tag (buffer, name, "left-margin", 24, "style", PANGO_STYLE_ITALIC, NULL);
  else if (g_str_equal (name, "list"))
    tag = gtk_text_buffer_create_tag (buffer, name, "left-margin", 18, NULL);
  else if (g_str_equal (name, "dim"))
    tag = gtk_text_buffer_create_tag (buffer, name, "style", PANGO_STYLE_ITALIC, "scale", 0.9, NULL);
  else
    tag = gtk_text_buffer_create_tag (buffer, name, NULL);
  return tag;
}

static const char *
style_tag_name (TdHtmlStyle style)
{
  static const char * const names[] = {
    [TD_HTML_STYLE_BOLD] = "bold",
    [TD_HTML_STYLE_ITALIC] = "italic",
    [TD_HTML_STYLE_HEADING] = "heading",
    [TD_HTML_STYLE_MONO] = "mono",
    [TD_HTML_STYLE_QUOTE] = "quote",
    [TD_HTML_STYLE_LIST] = "list",
    [TD_HTML_STYLE_DIM] = "dim",
  };

  g_assert (style < G_N_ELEMENTS (names) && names[style] != NULL);
  return names[style];
}

static gboolean
is_safe_link (const char *href)
{
  return td_html_link_is_safe (href);
}

void
td_article_render_html (GtkTextBuffer *buffer,
                        const char    *html)
{
  g_autoptr(TdHtmlText) text = NULL;
  g_autoptr(GHashTable) links = NULL;
  const GdkRGBA *color;
  GtkTextIter end;
  int base;

  g_return_if_fail (GTK_IS_TEXT_BUFFER (buffer));

  if (html == NULL || *html == '\0')
    return;

  base = gtk_text_buffer_get_char_count (buffer);
  /* Translators: the text shown for an image, %s is its description */
  text = td_html_to_text (html, base > 0, _("[Image: %s]"));

  /* Tags in the order their styles were first met: a later tag wins
   * where two set the same property (a heading's size over an image
   * description's). */
  for (guint i = 0; i < text->n_styles; i++)
    ensure_tag (buffer, style_tag_name (text->style_order[i]));

  gtk_text_buffer_get_end_iter (buffer, &end);
  gtk_text_buffer_insert (buffer, &end, text->text, -1);

  color = g_object_get_data (G_OBJECT (buffer), "td-link-color");
  links = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < text->spans->len; i++)
    {
      TdHtmlSpan *span = g_ptr_array_index (text->spans, i);
      GtkTextIter start, stop;
      GtkTextTag *tag;

      if (span->style == TD_HTML_STYLE_LINK)
        {
          /* One tag per link, carrying its address. */
          tag = g_hash_table_lookup (links, GUINT_TO_POINTER (span->link));
          if (tag == NULL)
            {
              tag = gtk_text_buffer_create_tag (buffer, NULL, "underline", PANGO_UNDERLINE_SINGLE, NULL);
              if (color != NULL)
                g_object_set (tag, "foreground-rgba", color, NULL);
              g_object_set_data_full (G_OBJECT (tag), "href", g_strdup (span->href), g_free);
              g_hash_table_insert (links, GUINT_TO_POINTER (span->link), tag);
            }
        }
      else
        tag = ensure_tag (buffer, style_tag_name (span->style));
      gtk_text_buffer_get_iter_at_offset (buffer, &start, base + (int) span->start);
      gtk_text_buffer_get_iter_at_offset (buffer, &stop, base + (int) span->end);
      gtk_text_buffer_apply_tag (buffer, tag, &start, &stop);
    }

  /* No trailing blank lines, in what was there before either. */
  {
    GtkTextIter start;

    gtk_text_buffer_get_end_iter (buffer, &end);
    start = end;
    while (gtk_text_iter_backward_char (&start) && gtk_text_iter_get_char (&start) == '\n')
      ;
    if (!gtk_text_iter_is_end (&start))
      {
        if (gtk_text_iter_get_char (&start) != '\n')
          gtk_text_iter_forward_char (&start);
        gtk_text_buffer_delete (buffer, &start, &end);
      }
  }
}

/* ------------------------------------------------------------------ */
/* Links                                                               */

static const char *
href_at (TdArticleView *self,
         double         x,
         double         y)
{
  GtkTextIter iter;
  int bx, by;
  g_autoptr(GSList) tags = NULL;

  gtk_text_view_window_to_buffer_coords (self->text_view, GTK_TEXT_WINDOW_WIDGET, (int) x, (int) y, &bx, &by);
  if (!gtk_text_view_get_iter_at_location (self->text_view, &iter, bx, by))
    return NULL;

  tags = gtk_text_iter_get_tags (&iter);
  for (GSList *l = tags; l != NULL; l = l->next)
    {
      const char *href = g_object_get_data (l->data, "href");

      if (href != NULL)
        return href;
    }
  return NULL;
}

static void
open_uri (TdArticleView *self,
          const char    *uri)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (uri != NULL && is_safe_link (uri))
    gtk_show_uri (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, uri, GDK_CURRENT_TIME);
}

static void
text_released_cb (GtkGestureClick *gesture,
                  int              n_press,
                  double           x,
                  double           y,
                  TdArticleView   *self)
{
  GtkTextIter start, end;
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);

  /* A drag that selected text is not a click on a link. */
  if (gtk_text_buffer_get_selection_bounds (buffer, &start, &end))
    return;

  open_uri (self, href_at (self, x, y));
}

static void
text_motion_cb (GtkEventControllerMotion *motion,
                double                    x,
                double                    y,
                TdArticleView            *self)
{
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self->text_view),
                                   href_at (self, x, y) ? "pointer" : NULL);
}

static void
open_link_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  TdArticleView *self = TD_ARTICLE_VIEW (widget);

  open_uri (self, self->link);
}

static void
enclosure_clicked_cb (GtkButton     *button,
                      TdArticleView *self)
{
  open_uri (self, g_object_get_data (G_OBJECT (button), "href"));
}

#if HAVE_WEBKIT
/* ------------------------------------------------------------------ */
/* WebKit                                                              */

/* The page around the feed's HTML: the system font at a readable width,
 * colours that follow light and dark (set again on every change), and a
 * policy that lets nothing run and nothing but images load. Remote images
 * are off by default (auto-load-images FALSE): they tell the publisher
 * that, when and from where an article is read. */
static char *
web_page_html (TdArticleView *self,
               const char    *content)
{
  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());
  g_autofree char *body = NULL;

  if (content == NULL)
    content = "";
  if (td_html_looks_like_html (content))
    body = g_strdup (content);
  else
    {
      g_auto(GStrv) paragraphs = g_strsplit (content, "\n\n", -1);
      GString *text = g_string_new (NULL);

      for (guint i = 0; paragraphs[i] != NULL; i++)
        {
          g_autofree char *escaped = g_markup_escape_text (paragraphs[i], -1);

          g_string_append_printf (text, "<p>%s</p>\n", escaped);
        }
      body = g_string_free (text, FALSE);
    }

  return g_strdup_printf (
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "img-src http: https: data:; style-src 'unsafe-inline'\">\n"
    "<meta name=\"color-scheme\" content=\"%s\">\n"
    "<style>\n"
    ":root { color-scheme: %s; }\n"
    "html { background: transparent; color: %s; }\n"
    "body { font-family: system-ui, sans-serif; font-size: 1.05em; line-height: 1.6;"
    " max-width: 42em; margin: 0 auto; padding: 0 2px 1em; overflow-wrap: break-word; }\n"
    "a { color: %s; }\n"
    "img, video, iframe { max-width: 100%%; height: auto; }\n"
    "pre { overflow-x: auto; padding: .6em; border-radius: 6px; background: %s; }\n"
    "code, pre, kbd, samp, tt { font-family: monospace; font-size: .92em; }\n"
    "blockquote { margin: 1em 0; padding-left: 1em; border-left: 3px solid %s; opacity: .85; }\n"
    "table { border-collapse: collapse; } td, th { padding: .2em .5em; border: 1px solid %s; }\n"
    "h1, h2, h3, h4, h5, h6 { line-height: 1.25; }\n"
    "</style></head>\n<body>\n%s\n</body></html>\n",
    dark ? "dark" : "light",
    dark ? "dark" : "light",
    dark ? "#ffffff" : "rgba(0,0,0,0.8)",
    dark ? "#78aeed" : "#1c71d8",
    dark ? "rgba(255,255,255,0.08)" : "rgba(0,0,0,0.06)",
    dark ? "rgba(255,255,255,0.25)" : "rgba(0,0,0,0.2)",
    dark ? "rgba(255,255,255,0.15)" : "rgba(0,0,0,0.15)",
    body);
}

static void
web_view_render (TdArticleView *self)
{
  g_autofree char *page = NULL;

  if (self->web_view == NULL || self->web_html == NULL)
    return;
  page = web_page_html (self, self->web_html);
  webkit_web_view_load_html (self->web_view, page, self->web_base_uri);
}

static void
dark_changed_cb (AdwStyleManager *manager,
                 GParamSpec      *pspec,
                 TdArticleView   *self)
{
  web_view_render (self);
}

static void open_uri (TdArticleView *self, const char *uri);

/* The page is loaded once with load_html; any other navigation (a click,
 * a redirect, a meta refresh, a form) is refused, and a click opens the
 * link in the user's browser. New windows and downloads are refused too. */
static gboolean
decide_policy_cb (WebKitWebView            *web_view,
                  WebKitPolicyDecision     *decision,
                  WebKitPolicyDecisionType  type,
                  TdArticleView            *self)
{
  WebKitNavigationAction *action;
  WebKitURIRequest *request;
  const char *uri;

  if (type == WEBKIT_POLICY_DECISION_TYPE_RESPONSE)
    {
      webkit_policy_decision_ignore (decision);
      return TRUE;
    }

  action = webkit_navigation_policy_decision_get_navigation_action (WEBKIT_NAVIGATION_POLICY_DECISION (decision));
  request = webkit_navigation_action_get_request (action);
  uri = webkit_uri_request_get_uri (request);

  if (type == WEBKIT_POLICY_DECISION_TYPE_NAVIGATION_ACTION
      && webkit_navigation_action_get_navigation_type (action) == WEBKIT_NAVIGATION_TYPE_OTHER
      && !webkit_navigation_action_is_user_gesture (action)
      && !webkit_navigation_action_is_redirect (action)
      && g_strcmp0 (uri, self->web_base_uri ? self->web_base_uri : "about:blank") == 0)
    {
      /* The load_html of the page itself. */
      webkit_policy_decision_use (decision);
      return TRUE;
    }

  if (webkit_navigation_action_get_navigation_type (action) == WEBKIT_NAVIGATION_TYPE_LINK_CLICKED)
    open_uri (self, uri);
  webkit_policy_decision_ignore (decision);
  return TRUE;
}

static gboolean
context_menu_cb (WebKitWebView       *web_view,
                 WebKitContextMenu   *menu,
                 WebKitHitTestResult *hit,
                 TdArticleView       *self)
{
  /* Only the entries that stay inside the page (copy, select all). */
  GList *items = g_list_copy (webkit_context_menu_get_items (menu));

  for (GList *l = items; l != NULL; l = l->next)
    {
      WebKitContextMenuAction a = webkit_context_menu_item_get_stock_action (l->data);

      if (a != WEBKIT_CONTEXT_MENU_ACTION_COPY && a != WEBKIT_CONTEXT_MENU_ACTION_SELECT_ALL
          && a != WEBKIT_CONTEXT_MENU_ACTION_COPY_LINK_TO_CLIPBOARD)
        webkit_context_menu_remove (menu, l->data);
    }
  g_list_free (items);
  return FALSE;
}

static void
web_view_setup (TdArticleView *self)
{
  WebKitSettings *settings;
  WebKitNetworkSession *session;
  GtkWidget *box = gtk_widget_get_parent (GTK_WIDGET (self->text_view));

  settings = webkit_settings_new_with_settings ("enable-javascript", FALSE,
                                                "enable-javascript-markup", FALSE,
                                                "auto-load-images", FALSE,
                                                "enable-webgl", FALSE,
                                                "enable-webaudio", FALSE,
                                                "enable-media", FALSE,
                                                "media-playback-requires-user-gesture", TRUE,
                                                "enable-page-cache", FALSE,
                                                "enable-html5-database", FALSE,
                                                "enable-html5-local-storage", FALSE,
                                                "enable-developer-extras", FALSE,
                                                "javascript-can-open-windows-automatically", FALSE,
                                                "javascript-can-access-clipboard", FALSE,
                                                "allow-file-access-from-file-urls", FALSE,
                                                "allow-universal-access-from-file-urls", FALSE,
                                                "enable-back-forward-navigation-gestures", FALSE,
                                                "enable-fullscreen", FALSE,
                                                NULL);
  /* Ephemeral: no cookies, cache or site data kept on disk. */
  session = webkit_network_session_new_ephemeral ();
  self->web_view = g_object_new (WEBKIT_TYPE_WEB_VIEW, "settings", settings, "network-session", session, NULL);
  g_object_unref (settings);
  g_object_unref (session);
  webkit_web_view_set_background_color (self->web_view, &(GdkRGBA) { 0, 0, 0, 0 });
  gtk_widget_set_vexpand (GTK_WIDGET (self->web_view), TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self->web_view), TRUE);
  g_signal_connect (self->web_view, "decide-policy", G_CALLBACK (decide_policy_cb), self);
  g_signal_connect (self->web_view, "context-menu", G_CALLBACK (context_menu_cb), self);

  /* The web view scrolls itself: the header and the attachments stay put
   * around it and the outer scroller gives the box its own height. */
  gtk_widget_insert_after (GTK_WIDGET (self->web_view), box, GTK_WIDGET (self->text_view));
  gtk_widget_set_visible (GTK_WIDGET (self->text_view), FALSE);
  gtk_scrolled_window_set_policy (self->scroller, GTK_POLICY_NEVER, GTK_POLICY_NEVER);

  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (dark_changed_cb), self, 0);
}
#endif

/* ------------------------------------------------------------------ */
/* GObject                                                             */

static void
td_article_view_dispose (GObject *object)
{
  /* The stack is both the bin's child and a template child. */
  adw_bin_set_child (ADW_BIN (object), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (object), TD_TYPE_ARTICLE_VIEW);

  G_OBJECT_CLASS (td_article_view_parent_class)->dispose (object);
}

static void
td_article_view_finalize (GObject *object)
{
  TdArticleView *self = TD_ARTICLE_VIEW (object);

  g_free (self->link);
#if HAVE_WEBKIT
  g_free (self->web_html);
  g_free (self->web_base_uri);
#endif

  G_OBJECT_CLASS (td_article_view_parent_class)->finalize (object);
}

static void
td_article_view_class_init (TdArticleViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_article_view_dispose;
  object_class->finalize = td_article_view_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/tidings/Tidings/td-article-view.ui");
  gtk_widget_class_bind_template_child (widget_class, TdArticleView, stack);
  gtk_widget_class_bind_template_child (widget_class, TdArticleView, scroller);
  gtk_widget_class_bind_template_child (widget_class, TdArticleView, title_label);
  gtk_widget_class_bind_template_child (widget_class, TdArticleView, meta_label);
  gtk_widget_class_bind_template_child (widget_class, TdArticleView, open_button);
  gtk_widget_class_bind_template_child (widget_class, TdArticleView, text_view);
  gtk_widget_class_bind_template_child (widget_class, TdArticleView, enclosures_label);
  gtk_widget_class_bind_template_child (widget_class, TdArticleView, enclosures_box);

  gtk_widget_class_install_action (widget_class, "article.open-link", NULL, open_link_action);
}

/* The article's text sits on the page, not in a box of its own. */
static void
ensure_css (void)
{
  static gboolean loaded;
  GtkCssProvider *provider;

  if (loaded || gdk_display_get_default () == NULL)
    return;
  loaded = TRUE;
  provider = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (provider, "/io/github/tidings/Tidings/td-feeds-view.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (provider),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  g_object_unref (provider);
}

static void
td_article_view_init (TdArticleView *self)
{
  GtkGesture *click;
  GtkEventController *motion;

  gtk_widget_init_template (GTK_WIDGET (self));
  ensure_css ();

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "released", G_CALLBACK (text_released_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->text_view), GTK_EVENT_CONTROLLER (click));

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (text_motion_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->text_view), motion);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "article.open-link", FALSE);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

static char *
format_size (gint64 length)
{
  return length > 0 ? g_format_size ((guint64) length) : NULL;
}

void
td_article_view_set_item (TdArticleView    *self,
                          const TdFeedItem *item)
{
  GtkTextBuffer *buffer;
  GtkWidget *child;
  g_autoptr(GString) meta = NULL;
  GtkAdjustment *adjustment;

  g_return_if_fail (TD_IS_ARTICLE_VIEW (self));

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->enclosures_box))) != NULL)
    gtk_box_remove (self->enclosures_box, child);

  if (item == NULL)
    {
      g_clear_pointer (&self->link, g_free);
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "article.open-link", FALSE);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }

#if HAVE_WEBKIT
  /* Made for the first article, not at start-up: starting WebKit costs
   * the window's first frame tens of milliseconds. */
  if (self->web_view == NULL)
    web_view_setup (self);
#endif

  gtk_label_set_text (self->title_label, item->title && *item->title ? item->title : _("(Untitled)"));

  meta = g_string_new (item->feed_title);
  if (item->author != NULL && *item->author != '\0')
    g_string_append_printf (meta, " · %s", item->author);
  if (item->published > 0)
    {
      g_autoptr(GDateTime) date = g_date_time_new_from_unix_local (item->published / G_USEC_PER_SEC);
      /* Translators: the date of an article, see g_date_time_format() */
      g_autofree char *text = date ? g_date_time_format (date, _("%A, %-d %B %Y, %H:%M")) : NULL;

      if (text != NULL)
        g_string_append_printf (meta, " · %s", text);
    }
  gtk_label_set_text (self->meta_label, meta->str);

  g_free (self->link);
  self->link = g_strdup (item->link);
  gtk_widget_set_visible (GTK_WIDGET (self->open_button), is_safe_link (item->link));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "article.open-link", is_safe_link (item->link));

  buffer = gtk_text_buffer_new (NULL);
  /* Links in the theme's accent colour, which suits light and dark. */
  {
    GdkRGBA color;

    if (gtk_style_context_lookup_color (gtk_widget_get_style_context (GTK_WIDGET (self->text_view)),
                                        "accent_color", &color))
      g_object_set_data_full (G_OBJECT (buffer), "td-link-color", gdk_rgba_copy (&color),
                              (GDestroyNotify) gdk_rgba_free);
  }
  td_article_render_html (buffer, item->content && *item->content ? item->content : item->summary);
  gtk_text_view_set_buffer (self->text_view, buffer);
  g_object_unref (buffer);

#if HAVE_WEBKIT
  g_free (self->web_html);
  self->web_html = g_strdup (item->content && *item->content ? item->content : item->summary);
  g_free (self->web_base_uri);
  self->web_base_uri = is_safe_link (item->link) ? g_strdup (item->link) : NULL;
  web_view_render (self);
#endif

  for (guint i = 0; item->enclosures != NULL && i < item->enclosures->len; i++)
    {
      TdFeedItemEnclosure *e = g_ptr_array_index (item->enclosures, i);
      g_autofree char *base = g_path_get_basename (e->url);
      g_autofree char *size = format_size (e->length);
      g_autofree char *label = g_strdup_printf ("%s%s%s%s%s", base,
                                                e->type ? " · " : "", e->type ? e->type : "",
                                                size ? " · " : "", size ? size : "");
      GtkWidget *button = gtk_button_new_with_label (label);

      gtk_widget_set_halign (button, GTK_ALIGN_START);
      gtk_widget_set_tooltip_text (button, e->url);
      g_object_set_data_full (G_OBJECT (button), "href", g_strdup (e->url), g_free);
      g_signal_connect (button, "clicked", G_CALLBACK (enclosure_clicked_cb), self);
      gtk_widget_set_sensitive (button, is_safe_link (e->url));
      gtk_box_append (self->enclosures_box, button);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->enclosures_label),
                          item->enclosures != NULL && item->enclosures->len > 0);

  adjustment = gtk_scrolled_window_get_vadjustment (self->scroller);
  gtk_adjustment_set_value (adjustment, 0);
  gtk_stack_set_visible_child_name (self->stack, "article");
}

gboolean
td_article_view_page_down (TdArticleView *self)
{
  GtkAdjustment *adj;
  double value, upper, page;

  g_return_val_if_fail (TD_IS_ARTICLE_VIEW (self), FALSE);

  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "article") != 0)
    return FALSE;
#if HAVE_WEBKIT
  /* The web view scrolls itself (keys and wheel); with scripts off the
   * view cannot ask it how far it is, so space moves on to the next item. */
  if (self->web_view != NULL)
    return FALSE;
#endif

  adj = gtk_scrolled_window_get_vadjustment (self->scroller);
  value = gtk_adjustment_get_value (adj);
  upper = gtk_adjustment_get_upper (adj);
  page = gtk_adjustment_get_page_size (adj);
  if (value + page >= upper - 1)
    return FALSE;

  gtk_adjustment_set_value (adj, MIN (value + page * 0.9, upper - page));
  return TRUE;
}

char *
td_article_view_get_text (TdArticleView *self)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;

  g_return_val_if_fail (TD_IS_ARTICLE_VIEW (self), NULL);

  buffer = gtk_text_view_get_buffer (self->text_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}
