from django.urls import path

from notifications.views import mailbox_index, mailbox_read, mailbox_read_html

app_name = "mailbox"

urlpatterns = [
    path("", mailbox_index, name="index"),
    path("<str:name>/", mailbox_read, name="message"),
    path("<str:name>/html/", mailbox_read_html, name="message-html"),
]
