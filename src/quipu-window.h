#pragma once

#include <adwaita.h>

#include "quipu-application.h"

G_BEGIN_DECLS

#define QUIPU_TYPE_WINDOW (quipu_window_get_type ())
G_DECLARE_FINAL_TYPE (QuipuWindow, quipu_window, QUIPU, WINDOW, AdwApplicationWindow)

QuipuWindow *quipu_window_new                      (QuipuApplication *app);

/* Logs in as the command line asked, then opens @room. */
void         quipu_window_log_in                   (QuipuWindow *self,
                                                    const char  *server,
                                                    const char  *username,
                                                    const char  *fingerprint,
                                                    const char  *room);
void         quipu_window_open_conversation        (QuipuWindow *self,
                                                    const char  *key);
/* The key of the conversation on screen, or NULL. */
const char  *quipu_window_get_visible_conversation (QuipuWindow *self);
void         quipu_window_show_preferences         (QuipuWindow *self);
void         quipu_window_add_toast                (QuipuWindow *self,
                                                    const char  *text);

/* quipu-window-dialogs.c */
void         quipu_window_show_join_room           (QuipuWindow *self);
void         quipu_window_show_new_direct          (QuipuWindow *self);
void         quipu_window_show_jump_to             (QuipuWindow *self);
void         quipu_window_show_members             (QuipuWindow *self);
void         quipu_window_show_identity            (QuipuWindow *self);
/* Joins @room and opens it once joined. */
void         quipu_window_join_room                (QuipuWindow *self,
                                                    const char  *room);

G_END_DECLS
