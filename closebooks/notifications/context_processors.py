"""The unread count in the top bar, computed only when a page shows it (one indexed count)."""

from django.utils.functional import SimpleLazyObject


def unread(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count():
        from .models import Notification

        return Notification.objects.filter(user=user, in_app=True, read_at__isnull=True).count()

    return {"unread_notifications": SimpleLazyObject(count)}
