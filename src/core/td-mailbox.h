/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Mailboxes: the only way tasks in Tidings talk to each other.
 *
 * A mailbox lives on one GMainContext and is named by a 64-bit id that is
 * never reused. Mail is sent by id from any thread and delivered on the
 * owner's context, in send order per sending thread. Mail to a closed or
 * unknown id is freed, not delivered, and counted as stale.
 *
 * - Each mailbox is a GSource of its own priority on its context; one
 *   dispatch delivers at most a budget of mail (messages or time), then
 *   yields to the main loop.
 * - Sending never waits for the receiver: one short critical section, and
 *   a wakeup of the owner context only when its inbox was empty.
 * - A mailbox holds a reference on its context: close every mailbox before
 *   dropping the context.
 * - Closing frees pending mail (as stale) and, once no id of the handler is
 *   open any more, the handler's user data, on the thread that closes.
 * - td_mailbox_reopen() gives the same handler a new id: replies still in
 *   flight to the old id become stale. That is how a cancelled request's
 *   late replies are ignored.
 * - td_mail_send_after() delivers later, from a timeout on the mailbox's
 *   context; mail that comes due after its mailbox closed is stale.
 */

typedef guint64 TdMailboxId;

#define TD_MAILBOX_NONE ((TdMailboxId) 0)

/* Default slice for one dispatch: at most this many messages ... */
#define TD_MAILBOX_DEFAULT_BUDGET_MESSAGES 256
/* ... or this many microseconds, whichever comes first, so that a flood of
 * results never holds the main loop for longer than a fraction of a frame. */
#define TD_MAILBOX_DEFAULT_BUDGET_USEC     4000

typedef struct _TdMail TdMail;

/* A piece of mail: a kind chosen by the receiver's protocol, a payload and
 * the function that frees the payload when the mail is freed. */
struct _TdMail
{
  guint          kind;
  gpointer       data;
  GDestroyNotify destroy;

  /*< private >*/
  TdMail        *next;
};

/* Called on the mailbox's context for each delivered mail. The handler
 * borrows @mail; it may take the payload with td_mail_steal_data(). */
typedef void (*TdMailboxFunc) (TdMailboxId  id,
                               TdMail      *mail,
                               gpointer     user_data);

TdMail      *td_mail_new                (guint           kind,
                                         gpointer        data,
                                         GDestroyNotify  destroy);
void         td_mail_free               (TdMail         *mail);
gpointer     td_mail_steal_data         (TdMail         *mail);

TdMailboxId  td_mailbox_open            (GMainContext   *context,
                                         int             priority,
                                         TdMailboxFunc   func,
                                         gpointer        user_data,
                                         GDestroyNotify  user_data_destroy);
TdMailboxId  td_mailbox_open_transient  (GMainContext   *context,
                                         int             priority,
                                         TdMailboxFunc   func,
                                         gpointer        user_data,
                                         GDestroyNotify  user_data_destroy);
void         td_mailbox_close           (TdMailboxId     id);
TdMailboxId  td_mailbox_reopen          (TdMailboxId     id);
gboolean     td_mailbox_is_open         (TdMailboxId     id);
void         td_mailbox_set_budget      (TdMailboxId     id,
                                         guint           max_messages,
                                         guint           max_usec);

gboolean     td_mail_send               (TdMailboxId     id,
                                         TdMail         *mail);
gboolean     td_mail_send_new           (TdMailboxId     id,
                                         guint           kind,
                                         gpointer        data,
                                         GDestroyNotify  destroy);
guint        td_mail_send_after         (TdMailboxId     id,
                                         guint           delay_ms,
                                         TdMail         *mail);
void         td_mail_cancel_timeout     (guint           timeout_handle);
gboolean     td_mail_timeout_is_pending (guint           timeout_handle);

guint64      td_mailbox_get_stale_count (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdMail, td_mail_free)

G_END_DECLS
