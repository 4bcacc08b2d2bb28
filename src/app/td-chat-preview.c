/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-preview"

#include "config.h"

#include <glib/gi18n.h>

#include "app/td-chat-line.h"
#include "app/td-chat-preview.h"

struct _TdChatPreview
{
  GtkWidget             parent_instance;

  /* Template widgets */
  GtkStack             *stack;
  GtkButton            *image_button;
  GtkStack             *image_stack;
  GtkPicture           *picture;
  GtkImage             *placeholder_icon;
  GtkLabel             *placeholder_label;
  GtkImage             *file_icon;
  GtkLabel             *file_name;
  GtkLabel             *file_detail;
  GtkButton            *save_button;

  /* Owned */
  TdChatFiles          *files;
  char                 *network;
  char                 *text;      /* the line's */
  char                 *url;
  TdFileUrlKind         kind;
  TdChatThumbnailState  state;
};

G_DEFINE_FINAL_TYPE (TdChatPreview, td_chat_preview, GTK_TYPE_WIDGET)

enum {
  SAVE_REQUESTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* Shows the thumbnail of self->url as it is now. */
static void
update_image (TdChatPreview *self)
{
  GdkTexture *texture = NULL;
  const char *error = NULL;
  g_autofree char *name = td_file_url_get_name (self->url);
  g_autofree char *accessible = NULL;

  self->state = td_chat_files_get_thumbnail (self->files, self->url, &texture, &error);
  if (self->state == TD_CHAT_THUMBNAIL_READY && texture != NULL)
    {
      /* Shown at its own size: thumbnails are made to fit. */
      gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
      gtk_stack_set_visible_child_name (self->image_stack, "picture");
    }
  else
    {
      gtk_picture_set_paintable (self->picture, NULL);
      gtk_image_set_from_icon_name (self->placeholder_icon,
                                    self->state == TD_CHAT_THUMBNAIL_FAILED ? "image-missing-symbolic"
                                                                            : "image-x-generic-symbolic");
      gtk_label_set_label (self->placeholder_label,
                           self->state == TD_CHAT_THUMBNAIL_FAILED ? _("No preview") : _("Loading preview…"));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->placeholder_label), error);
      gtk_stack_set_visible_child_name (self->image_stack, "placeholder");
    }
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->image_button), name ? name : self->url);
  accessible = g_strdup_printf (_("Open the image %s"), name ? name : self->url);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->image_button), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
}

static void
update_file (TdChatPreview *self)
{
  g_autofree char *name = td_file_url_get_name (self->url);
  g_autofree char *type = name ? g_content_type_guess (name, NULL, 0, NULL) : NULL;
  g_autoptr(GIcon) icon = type ? g_content_type_get_symbolic_icon (type) : NULL;
  g_autofree char *description = type ? g_content_type_get_description (type) : NULL;
  g_autofree char *accessible = NULL;
  gint64 size = td_chat_files_get_size (self->files, self->url);

  gtk_label_set_label (self->file_name, name ? name : self->url);
  if (icon != NULL)
    gtk_image_set_from_gicon (self->file_icon, icon);
  else
    gtk_image_set_from_icon_name (self->file_icon, "text-x-generic-symbolic");
  if (size >= 0)
    {
      g_autofree char *formatted = g_format_size (size);
      g_autofree char *detail = g_strdup_printf ("%s · %s", formatted, description ? description : _("File"));

      gtk_label_set_label (self->file_detail, detail);
    }
  else
    gtk_label_set_label (self->file_detail, description ? description : _("File"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->file_name), self->url);
  accessible = g_strdup_printf (_("Save a copy of %s"), name ? name : self->url);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->save_button), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
}

/* Shows the first link of the line that is an image or a file on a known
 * host, or hides. */
static void
update (TdChatPreview *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self), self->kind != TD_FILE_URL_NONE);
  switch (self->kind)
    {
    case TD_FILE_URL_IMAGE:
      gtk_stack_set_visible_child_name (self->stack, "image");
      update_image (self);
      break;
    case TD_FILE_URL_FILE:
      gtk_stack_set_visible_child_name (self->stack, "file");
      update_file (self);
      break;
    case TD_FILE_URL_NONE:
    default:
      gtk_picture_set_paintable (self->picture, NULL);
      break;
    }
}

static void
thumbnail_changed_cb (TdChatFiles   *files,
                      const char    *url,
                      TdChatPreview *self)
{
  if (self->kind == TD_FILE_URL_IMAGE && g_strcmp0 (url, self->url) == 0)
    update_image (self);
}

/* The first link of @text that is previewed, and how. */
static char *
text_links_first (TdChatPreview *self,
                  const char    *text,
                  TdFileUrlKind *kind)
{
  g_auto(GStrv) links = text ? td_chat_text_get_links (text) : NULL;

  *kind = TD_FILE_URL_NONE;
  for (guint i = 0; links != NULL && links[i] != NULL; i++)
    {
      *kind = td_chat_files_classify (self->files, self->network, links[i]);
      if (*kind != TD_FILE_URL_NONE)
        return g_strdup (links[i]);
    }
  return NULL;
}

/* A file host became known or unknown: the line's links are looked at
 * again. */
static void
hosts_changed_cb (TdChatFiles   *files,
                  TdChatPreview *self)
{
  g_free (self->url);
  self->url = text_links_first (self, self->text, &self->kind);
  update (self);
}

static void
image_clicked_cb (TdChatPreview *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  /* Only web links are ever classified as images: the browser shows the
   * full size. */
  if (self->url != NULL)
    gtk_show_uri (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, self->url, GDK_CURRENT_TIME);
}

static void
save_clicked_cb (TdChatPreview *self)
{
  if (self->url != NULL)
    g_signal_emit (self, signals[SAVE_REQUESTED], 0, self->url);
}

static void
td_chat_preview_dispose (GObject *object)
{
  TdChatPreview *self = TD_CHAT_PREVIEW (object);

  if (self->files != NULL)
    g_signal_handlers_disconnect_by_data (self->files, self);
  g_clear_object (&self->files);
  gtk_widget_dispose_template (GTK_WIDGET (self), TD_TYPE_CHAT_PREVIEW);

  G_OBJECT_CLASS (td_chat_preview_parent_class)->dispose (object);
}

static void
td_chat_preview_finalize (GObject *object)
{
  TdChatPreview *self = TD_CHAT_PREVIEW (object);

  g_free (self->network);
  g_free (self->text);
  g_free (self->url);

  G_OBJECT_CLASS (td_chat_preview_parent_class)->finalize (object);
}

static void
td_chat_preview_class_init (TdChatPreviewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_chat_preview_dispose;
  object_class->finalize = td_chat_preview_finalize;

  /* The user asked to save the file at the URL. */
  signals[SAVE_REQUESTED] =
    g_signal_new ("save-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/tidings/Tidings/td-chat-preview.ui");
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, stack);
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, image_button);
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, image_stack);
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, picture);
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, placeholder_icon);
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, placeholder_label);
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, file_icon);
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, file_name);
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, file_detail);
  gtk_widget_class_bind_template_child (widget_class, TdChatPreview, save_button);
  gtk_widget_class_bind_template_callback (widget_class, image_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, save_clicked_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "chat-preview");
}

static void
td_chat_preview_init (TdChatPreview *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
}

GtkWidget *
td_chat_preview_new (TdChatFiles *files)
{
  TdChatPreview *self;

  g_return_val_if_fail (TD_IS_CHAT_FILES (files), NULL);

  self = g_object_new (TD_TYPE_CHAT_PREVIEW, NULL);
  self->files = g_object_ref (files);
  g_signal_connect (files, "thumbnail-changed", G_CALLBACK (thumbnail_changed_cb), self);
  g_signal_connect (files, "hosts-changed", G_CALLBACK (hosts_changed_cb), self);
  return GTK_WIDGET (self);
}

/* Shows the preview for the line @text of @network (nullable: no known
 * file host). */
void
td_chat_preview_bind (TdChatPreview *self,
                      const char    *network,
                      const char    *text)
{
  g_return_if_fail (TD_IS_CHAT_PREVIEW (self));

  g_free (self->network);
  self->network = g_strdup (network);
  g_free (self->text);
  self->text = g_strdup (text);
  g_free (self->url);
  self->url = text_links_first (self, text, &self->kind);
  update (self);
}

const char *
td_chat_preview_get_url (TdChatPreview *self)
{
  g_return_val_if_fail (TD_IS_CHAT_PREVIEW (self), NULL);
  return self->url;
}

TdFileUrlKind
td_chat_preview_get_kind (TdChatPreview *self)
{
  g_return_val_if_fail (TD_IS_CHAT_PREVIEW (self), TD_FILE_URL_NONE);
  return self->kind;
}

TdChatThumbnailState
td_chat_preview_get_thumbnail_state (TdChatPreview *self)
{
  g_return_val_if_fail (TD_IS_CHAT_PREVIEW (self), TD_CHAT_THUMBNAIL_NONE);
  return self->kind == TD_FILE_URL_IMAGE ? self->state : TD_CHAT_THUMBNAIL_NONE;
}
