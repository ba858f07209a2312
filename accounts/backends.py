from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    """E-mail login (case-insensitive) that refuses banned accounts."""

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and not getattr(user, "is_banned", False)
