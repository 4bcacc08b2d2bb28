/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-mailbox"

#include "config.h"

#include "core/td-mailbox.h"
#include "core/td-sync-private.h"

/*
 * How it works.
 *
 * The registry maps ids to mailboxes under one mutex. A sender looks the
 * id up and appends its mail to the mailbox's inbox while holding that
 * mutex, so a mailbox that is removed from the registry can never receive
 * mail again, and the mail already in it is freed exactly once (by the
 * source's finalize). One short critical section per send, and no
 * allocation besides the mail itself.
 *
 * The inbox is a FIFO list. The owner context takes the whole list at once
 * (two pointer swaps under the mutex) into a private outbox and delivers
 * from there without locking, so it takes the mutex once per batch, not
 * once per mail, and taking a batch costs the same whatever its size. A
 * single FIFO gives per-sender order.
 *
 * A sender wakes the owner context only when it finds the inbox empty: if
 * the inbox already holds mail, the context has already been woken up (or
 * is about to drain it), so a flood costs one wakeup per drained batch, not
 * one per message.
 */

/* ------------------------------------------------------------------ */
/* Mail                                                               */
/* ------------------------------------------------------------------ */

/* Returns new mail that owns @data (freed with @destroy, which may be NULL). */
TdMail *
td_mail_new (guint          kind,
             gpointer       data,
             GDestroyNotify destroy)
{
  TdMail *mail = g_new (TdMail, 1);

  mail->kind = kind;
  mail->data = data;
  mail->destroy = destroy;
  mail->next = NULL;

  return mail;
}

/* Frees @mail and its payload (unless the payload was stolen). */
void
td_mail_free (TdMail *mail)
{
  if (mail == NULL)
    return;

  if (mail->destroy != NULL && mail->data != NULL)
    mail->destroy (mail->data);

  g_free (mail);
}

/* Returns the payload of @mail and leaves the mail empty; the caller owns
 * the payload. */
gpointer
td_mail_steal_data (TdMail *mail)
{
  g_return_val_if_fail (mail != NULL, NULL);

  mail->destroy = NULL;
  return g_steal_pointer (&mail->data);
}

/* ------------------------------------------------------------------ */
/* Stale counter                                                      */
/* ------------------------------------------------------------------ */

static guint64 stale_count;

static void
td_mailbox_count_stale (guint n)
{
  __atomic_fetch_add (&stale_count, (guint64) n, __ATOMIC_RELAXED);
}

/* Returns how many pieces of mail were discarded because their mailbox was
 * closed (or never existed) since the process started. */
guint64
td_mailbox_get_stale_count (void)
{
  return __atomic_load_n (&stale_count, __ATOMIC_RELAXED);
}

/* Frees a NULL-terminated chain of mail and counts it as stale. */
static void
td_mail_free_chain_stale (TdMail *chain)
{
  guint n = 0;

  while (chain != NULL)
    {
      TdMail *next = chain->next;

      td_mail_free (chain);
      chain = next;
      n++;
    }

  if (n > 0)
    td_mailbox_count_stale (n);
}

/* ------------------------------------------------------------------ */
/* Handler: shared by a mailbox and the one that reopens it           */
/* ------------------------------------------------------------------ */

typedef struct
{
  gatomicrefcount ref_count;
  TdMailboxFunc   func;
  gpointer        user_data;
  GDestroyNotify  user_data_destroy;
} TdMailboxHandler;

static TdMailboxHandler *
td_mailbox_handler_new (TdMailboxFunc  func,
                        gpointer       user_data,
                        GDestroyNotify user_data_destroy)
{
  TdMailboxHandler *handler = g_new0 (TdMailboxHandler, 1);

  g_atomic_ref_count_init (&handler->ref_count);
  handler->func = func;
  handler->user_data = user_data;
  handler->user_data_destroy = user_data_destroy;

  return handler;
}

static TdMailboxHandler *
td_mailbox_handler_ref (TdMailboxHandler *handler)
{
  g_atomic_ref_count_inc (&handler->ref_count);
  return handler;
}

static void
td_mailbox_handler_unref (TdMailboxHandler *handler)
{
  if (!g_atomic_ref_count_dec (&handler->ref_count))
    return;

  if (handler->user_data_destroy != NULL)
    handler->user_data_destroy (handler->user_data);
  g_free (handler);
}

/* ------------------------------------------------------------------ */
/* The mailbox source                                                 */
/* ------------------------------------------------------------------ */

typedef struct
{
  GSource           source;

  TdMailboxId       id;             /* immutable */
  GMainContext     *context;        /* owned; immutable */
  TdMailboxHandler *handler;        /* owned; immutable */
  gboolean          transient;      /* immutable */

  /* Under the registry mutex; the head is also read without it (as a
   * hint) by the owner. */
  TdMail           *inbox_head;     /* oldest first */
  TdMail           *inbox_tail;

  /* Owner context only. */
  TdMail           *outbox_head;    /* oldest first */
  TdMail           *outbox_tail;

  /* Any thread. */
  gint              closed;         /* atomic */
  guint             budget_messages;/* atomic */
  guint             budget_usec;    /* atomic */
} TdMailbox;

static GMutex      registry_mutex;
static GHashTable *registry;        /* &id -> TdMailbox (one source ref) */
static TdMailboxId next_id = 1;     /* 0 is TD_MAILBOX_NONE */

/* Returns TRUE if the owner has mail to deliver. Owner context only. */
static gboolean
td_mailbox_has_mail (TdMailbox *self)
{
  return self->outbox_head != NULL
         || g_atomic_pointer_get (&self->inbox_head) != NULL;
}

/* Moves everything in the inbox to the tail of the outbox, in constant
 * time. Owner context only. */
static void
td_mailbox_drain_inbox (TdMailbox *self)
{
  TdMail *head;
  TdMail *tail;

  if (g_atomic_pointer_get (&self->inbox_head) == NULL)
    return;

  td_mutex_lock (&registry_mutex);
  head = self->inbox_head;
  tail = self->inbox_tail;
  g_atomic_pointer_set (&self->inbox_head, NULL);
  self->inbox_tail = NULL;
  td_mutex_unlock (&registry_mutex);

  if (head == NULL)
    return;

  if (self->outbox_tail != NULL)
    self->outbox_tail->next = head;
  else
    self->outbox_head = head;
  self->outbox_tail = tail;
}

/* Returns the oldest undelivered mail, or NULL. Owner context only. */
static TdMail *
td_mailbox_pop (TdMailbox *self)
{
  TdMail *mail;

  if (self->outbox_head == NULL)
    td_mailbox_drain_inbox (self);

  mail = self->outbox_head;
  if (mail == NULL)
    return NULL;

  self->outbox_head = mail->next;
  if (self->outbox_head == NULL)
    self->outbox_tail = NULL;
  mail->next = NULL;

  return mail;
}

static gboolean
td_mailbox_source_prepare (GSource *source,
                           int     *timeout)
{
  /* Pairs with the release in register and dispatch: GMainContext hands
   * the source between threads under its own (uninstrumented) lock. */
  td_tsan_acquire (source);
  *timeout = -1;
  return td_mailbox_has_mail ((TdMailbox *) source);
}

static gboolean
td_mailbox_source_check (GSource *source)
{
  td_tsan_acquire (source);
  return td_mailbox_has_mail ((TdMailbox *) source);
}

/* Delivers at most one budget of mail, then yields to the main loop with
 * the source still ready if mail remains, so that sources of higher
 * priority (input, redraw) get their turn between slices. */
static gboolean
td_mailbox_source_dispatch (GSource     *source,
                            GSourceFunc  callback,
                            gpointer     user_data)
{
  TdMailbox *self = (TdMailbox *) source;
  guint max_messages = g_atomic_int_get (&self->budget_messages);
  gint64 deadline = g_get_monotonic_time () + g_atomic_int_get (&self->budget_usec);
  gboolean keep = G_SOURCE_CONTINUE;
  guint n;

  td_tsan_acquire (source);

  for (n = 0; n < max_messages; n++)
    {
      g_autoptr(TdMail) mail = NULL;

      /* The handler may have closed this mailbox: what is left is freed
       * as stale by finalize. */
      if (g_atomic_int_get (&self->closed))
        {
          keep = G_SOURCE_REMOVE;
          break;
        }

      mail = td_mailbox_pop (self);
      if (mail == NULL)
        break;

      self->handler->func (self->id, mail, self->handler->user_data);
      g_clear_pointer (&mail, td_mail_free);

      if (self->transient)
        {
          td_mailbox_close (self->id);
          keep = G_SOURCE_REMOVE;
          break;
        }

      if (g_get_monotonic_time () >= deadline)
        break;
    }

  /* Finalize may run on the thread that closes the mailbox. */
  td_tsan_release (source);

  return keep;
}

/* Runs once nobody can send to or dispatch this mailbox any more: frees
 * the mail it still holds as stale. */
static void
td_mailbox_source_finalize (GSource *source)
{
  TdMailbox *self = (TdMailbox *) source;

  td_tsan_acquire (source);
  /* Unregistered: no sender can touch the inbox any more. */
  td_mail_free_chain_stale (g_atomic_pointer_get (&self->inbox_head));
  g_atomic_pointer_set (&self->inbox_head, NULL);
  self->inbox_tail = NULL;
  td_mail_free_chain_stale (g_steal_pointer (&self->outbox_head));
  self->outbox_tail = NULL;

  g_clear_pointer (&self->handler, td_mailbox_handler_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
}

static GSourceFuncs td_mailbox_source_funcs = {
  .prepare = td_mailbox_source_prepare,
  .check = td_mailbox_source_check,
  .dispatch = td_mailbox_source_dispatch,
  .finalize = td_mailbox_source_finalize,
};

/* Creates, registers and attaches a mailbox; takes a ref on @handler.
 * Returns its new id. */
static TdMailboxId
td_mailbox_register (GMainContext     *context,
                     int               priority,
                     TdMailboxHandler *handler,
                     gboolean          transient,
                     guint             budget_messages,
                     guint             budget_usec)
{
  TdMailbox *self;
  TdMailboxId id;

  if (context == NULL)
    context = g_main_context_default ();

  self = (TdMailbox *) g_source_new (&td_mailbox_source_funcs, sizeof (TdMailbox));
  self->context = g_main_context_ref (context);
  self->handler = td_mailbox_handler_ref (handler);
  self->transient = transient;
  self->budget_messages = budget_messages;
  self->budget_usec = budget_usec;
  g_source_set_priority (&self->source, priority);
  g_source_set_static_name (&self->source, transient ? "TdMailbox (transient)" : "TdMailbox");
  td_tsan_release (&self->source);

  td_mutex_lock (&registry_mutex);
  if (registry == NULL)
    registry = g_hash_table_new (g_int64_hash, g_int64_equal);
  id = self->id = next_id++;
  g_hash_table_insert (registry, &self->id, self);
  td_mutex_unlock (&registry_mutex);

  /* Attached after registration: mail sent in between waits in the inbox
   * and the source is ready as soon as it is attached. */
  g_source_attach (&self->source, context);

  return id;
}

/* Returns the id of a new mailbox delivering to @func on @context (NULL
 * for the global default context) at GSource @priority. @user_data is
 * freed with @user_data_destroy when the mailbox (and any mailbox that
 * reopened it) is closed. */
TdMailboxId
td_mailbox_open (GMainContext   *context,
                 int             priority,
                 TdMailboxFunc   func,
                 gpointer        user_data,
                 GDestroyNotify  user_data_destroy)
{
  TdMailboxHandler *handler;
  TdMailboxId id;

  g_return_val_if_fail (func != NULL, TD_MAILBOX_NONE);

  handler = td_mailbox_handler_new (func, user_data, user_data_destroy);
  id = td_mailbox_register (context, priority, handler, FALSE,
                            TD_MAILBOX_DEFAULT_BUDGET_MESSAGES,
                            TD_MAILBOX_DEFAULT_BUDGET_USEC);
  td_mailbox_handler_unref (handler);

  return id;
}

/* Like td_mailbox_open(), but the mailbox closes itself after delivering
 * its first mail: a reply address for one request. */
TdMailboxId
td_mailbox_open_transient (GMainContext   *context,
                           int             priority,
                           TdMailboxFunc   func,
                           gpointer        user_data,
                           GDestroyNotify  user_data_destroy)
{
  TdMailboxHandler *handler;
  TdMailboxId id;

  g_return_val_if_fail (func != NULL, TD_MAILBOX_NONE);

  handler = td_mailbox_handler_new (func, user_data, user_data_destroy);
  id = td_mailbox_register (context, priority, handler, TRUE,
                            TD_MAILBOX_DEFAULT_BUDGET_MESSAGES,
                            TD_MAILBOX_DEFAULT_BUDGET_USEC);
  td_mailbox_handler_unref (handler);

  return id;
}

/* Removes @id from the registry; returns the mailbox with the registry's
 * source ref, or NULL if @id was not open. */
static TdMailbox *
td_mailbox_unregister (TdMailboxId id)
{
  TdMailbox *self = NULL;

  td_mutex_lock (&registry_mutex);
  if (registry != NULL)
    {
      self = g_hash_table_lookup (registry, &id);
      if (self != NULL)
        {
          g_hash_table_remove (registry, &id);
          g_atomic_int_set (&self->closed, TRUE);
        }
    }
  td_mutex_unlock (&registry_mutex);

  return self;
}

/* Detaches and releases a mailbox taken out of the registry. Its pending
 * mail is freed as stale once a dispatch in progress (if any) returns. */
static void
td_mailbox_destroy (TdMailbox *self)
{
  g_source_destroy (&self->source);
  g_source_unref (&self->source);
}

/* Closes @id: no mail is delivered to it any more, mail still pending is
 * freed and counted as stale. Safe from any thread, and from the
 * mailbox's own handler. Closing an id that is not open does nothing. */
void
td_mailbox_close (TdMailboxId id)
{
  TdMailbox *self;

  if (id == TD_MAILBOX_NONE)
    return;

  self = td_mailbox_unregister (id);
  if (self != NULL)
    td_mailbox_destroy (self);
}

/* Closes @id and returns a new id delivering to the same handler on the
 * same context (the handler's user data carries over). Mail still in
 * flight to the old id is then stale. Returns TD_MAILBOX_NONE if @id was
 * not open. */
TdMailboxId
td_mailbox_reopen (TdMailboxId id)
{
  TdMailbox *old;
  TdMailboxId new_id;

  old = td_mailbox_unregister (id);
  if (old == NULL)
    return TD_MAILBOX_NONE;

  new_id = td_mailbox_register (old->context,
                                g_source_get_priority (&old->source),
                                old->handler,
                                old->transient,
                                g_atomic_int_get (&old->budget_messages),
                                g_atomic_int_get (&old->budget_usec));
  td_mailbox_destroy (old);

  return new_id;
}

/* Returns TRUE if @id names an open mailbox. */
gboolean
td_mailbox_is_open (TdMailboxId id)
{
  gboolean open = FALSE;

  td_mutex_lock (&registry_mutex);
  if (registry != NULL)
    open = g_hash_table_contains (registry, &id);
  td_mutex_unlock (&registry_mutex);

  return open;
}

/* Sets the slice of one dispatch of @id: at most @max_messages mail or
 * @max_usec microseconds, whichever ends first (0 restores a default). */
void
td_mailbox_set_budget (TdMailboxId id,
                       guint       max_messages,
                       guint       max_usec)
{
  TdMailbox *self;

  if (max_messages == 0)
    max_messages = TD_MAILBOX_DEFAULT_BUDGET_MESSAGES;
  if (max_usec == 0)
    max_usec = TD_MAILBOX_DEFAULT_BUDGET_USEC;

  td_mutex_lock (&registry_mutex);
  self = registry != NULL ? g_hash_table_lookup (registry, &id) : NULL;
  if (self != NULL)
    {
      g_atomic_int_set (&self->budget_messages, max_messages);
      g_atomic_int_set (&self->budget_usec, max_usec);
    }
  td_mutex_unlock (&registry_mutex);
}

/* Sends @mail (taking ownership) to @id from any thread without waiting
 * for the receiver. Returns FALSE, and frees the mail as stale, if @id is
 * not open. */
gboolean
td_mail_send (TdMailboxId  id,
              TdMail      *mail)
{
  TdMailbox *self;

  g_return_val_if_fail (mail != NULL, FALSE);

  td_mutex_lock (&registry_mutex);
  self = registry != NULL ? g_hash_table_lookup (registry, &id) : NULL;
  if (G_LIKELY (self != NULL))
    {
      mail->next = NULL;
      if (self->inbox_tail != NULL)
        self->inbox_tail->next = mail;
      else
        {
          g_atomic_pointer_set (&self->inbox_head, mail);
          /* Only the first mail into an empty inbox needs to wake the
           * owner; the context stays alive while the mailbox is
           * registered. */
          g_main_context_wakeup (self->context);
        }
      self->inbox_tail = mail;
    }
  td_mutex_unlock (&registry_mutex);

  if (G_UNLIKELY (self == NULL))
    {
      mail->next = NULL;
      td_mail_free_chain_stale (mail);
      return FALSE;
    }

  return TRUE;
}

/* Shorthand for td_mail_send (id, td_mail_new (kind, data, destroy)). */
gboolean
td_mail_send_new (TdMailboxId    id,
                  guint          kind,
                  gpointer       data,
                  GDestroyNotify destroy)
{
  return td_mail_send (id, td_mail_new (kind, data, destroy));
}

/* ------------------------------------------------------------------ */
/* Delayed mail                                                       */
/* ------------------------------------------------------------------ */

typedef struct
{
  guint        handle;
  TdMailboxId  id;
  TdMail      *mail;    /* owned until sent */
} TdMailTimeout;

static GMutex      timeouts_mutex;
static GHashTable *timeouts;          /* handle -> GSource (one ref) */
static guint       next_timeout_handle = 1;

static void
td_mail_timeout_free (gpointer data)
{
  TdMailTimeout *timeout = data;

  td_mail_free (timeout->mail);
  g_free (timeout);
}

/* Sends the delayed mail unless the timeout was cancelled meanwhile. */
static gboolean
td_mail_timeout_cb (gpointer data)
{
  TdMailTimeout *timeout = data;
  GSource *source = NULL;

  td_mutex_lock (&timeouts_mutex);
  if (g_hash_table_steal_extended (timeouts, GUINT_TO_POINTER (timeout->handle),
                                   NULL, (gpointer *) &source))
    {
      td_mutex_unlock (&timeouts_mutex);
      td_mail_send (timeout->id, g_steal_pointer (&timeout->mail));
      g_source_unref (source);
    }
  else
    td_mutex_unlock (&timeouts_mutex);

  return G_SOURCE_REMOVE;
}

/* Sends @mail to @id after @delay_ms, from a timeout on the mailbox's own
 * context. Returns a handle for td_mail_cancel_timeout(), or 0 (and frees
 * the mail as stale) if @id is not open. If the mailbox is closed before
 * the delay is over, the mail is counted stale instead of delivered. */
guint
td_mail_send_after (TdMailboxId  id,
                    guint        delay_ms,
                    TdMail      *mail)
{
  g_autoptr(GMainContext) context = NULL;
  TdMailTimeout *timeout;
  TdMailbox *self;
  GSource *source;
  guint handle;

  g_return_val_if_fail (mail != NULL, 0);

  td_mutex_lock (&registry_mutex);
  self = registry != NULL ? g_hash_table_lookup (registry, &id) : NULL;
  if (self != NULL)
    context = g_main_context_ref (self->context);
  td_mutex_unlock (&registry_mutex);

  if (context == NULL)
    {
      mail->next = NULL;
      td_mail_free_chain_stale (mail);
      return 0;
    }

  timeout = g_new0 (TdMailTimeout, 1);
  timeout->id = id;
  timeout->mail = mail;

  source = g_timeout_source_new (delay_ms);
  g_source_set_static_name (source, "TdMailTimeout");
  g_source_set_callback (source, td_mail_timeout_cb, timeout, td_mail_timeout_free);

  td_mutex_lock (&timeouts_mutex);
  if (timeouts == NULL)
    timeouts = g_hash_table_new (NULL, NULL);
  /* Skip 0 and handles still in use after the counter wraps. */
  do
    handle = next_timeout_handle++;
  while (handle == 0 || g_hash_table_contains (timeouts, GUINT_TO_POINTER (handle)));
  timeout->handle = handle;
  g_hash_table_insert (timeouts, GUINT_TO_POINTER (handle), g_source_ref (source));
  td_mutex_unlock (&timeouts_mutex);

  g_source_attach (source, context);
  g_source_unref (source);

  return handle;
}

/* Cancels delayed mail that has not been sent yet and frees it (not
 * counted as stale). Safe from any thread; unknown or fired handles are
 * ignored. */
void
td_mail_cancel_timeout (guint timeout_handle)
{
  GSource *source = NULL;
  gboolean found = FALSE;

  if (timeout_handle == 0)
    return;

  td_mutex_lock (&timeouts_mutex);
  if (timeouts != NULL)
    found = g_hash_table_steal_extended (timeouts, GUINT_TO_POINTER (timeout_handle),
                                         NULL, (gpointer *) &source);
  td_mutex_unlock (&timeouts_mutex);

  if (found)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
}

/* Returns TRUE if @timeout_handle is still waiting to send its mail. */
gboolean
td_mail_timeout_is_pending (guint timeout_handle)
{
  gboolean pending = FALSE;

  td_mutex_lock (&timeouts_mutex);
  if (timeouts != NULL)
    pending = g_hash_table_contains (timeouts, GUINT_TO_POINTER (timeout_handle));
  td_mutex_unlock (&timeouts_mutex);

  return pending;
}
