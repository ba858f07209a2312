"""Least privilege in the user admin (issue #14): only superusers make staff, change groups,
permissions or the staff/superuser/active flags, or touch a staff account (details, password,
ban, delete). Operations manage customers; every privilege or password change is audited."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts.privileges import PRIVILEGE_FIELDS
from tests.backoffice.conftest import audit_entries, messages_of, post_action
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-Long-new-passphrase-42"


@pytest.fixture
def superuser(db):
    return UserFactory(email="root@fairdraw.example", is_staff=True, is_superuser=True)


@pytest.fixture
def root(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def change_url(user) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def password_url(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def form_data(client, user, **forged) -> dict:
    """What the change page would post back unchanged, plus `forged` values."""
    form = client.get(change_url(user)).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if field.disabled or value is None or value is False:
            continue
        if name in ("groups", "user_permissions"):
            data[name] = [str(getattr(v, "pk", v)) for v in value]
        elif value is True:
            data[name] = "on"
        else:
            data[name] = str(value)
    return {**data, **forged}


def escalation(operations_group) -> dict:
    every = [str(p.pk) for p in Permission.objects.all()[:5]]
    return {
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [str(operations_group.pk)],
        "user_permissions": every,
    }


def test_operations_is_not_offered_the_privilege_fields(operations, sale):
    response = operations.get(change_url(sale.customer))
    assert response.status_code == 200
    fields = response.context["adminform"].form.fields
    assert not set(PRIVILEGE_FIELDS) & set(fields)
    html = response.content.decode()
    for name in PRIVILEGE_FIELDS:
        assert f'name="{name}"' not in html
    assert "Superuser status" not in html


def test_support_does_not_see_the_privilege_fields_either(support, sale):
    html = support.get(change_url(sale.customer)).content.decode()
    assert "Superuser status" not in html and "Staff status" not in html
    assert "User permissions" not in html


def test_operations_cannot_make_themselves_superuser_by_a_forged_post(operations, operations_user):
    group = Group.objects.get(name="Operations")
    data = {"email": operations_user.email, "first_name": "Olivia", **escalation(group)}
    response = operations.post(change_url(operations_user), data)
    assert response.status_code == 403  # a staff account is read-only to non-superusers
    operations_user.refresh_from_db()
    assert not operations_user.is_superuser
    assert operations_user.user_permissions.count() == 0
    assert audit_entries("user.privileges") == []


def test_operations_cannot_grant_a_customer_anything_by_a_forged_post(operations, sale):
    customer = sale.customer
    group = Group.objects.get(name="Operations")
    data = form_data(operations, customer, first_name="Sara", **escalation(group))
    response = operations.post(change_url(customer), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    customer.refresh_from_db()
    assert customer.first_name == "Sara"  # the details were saved ...
    assert not customer.is_staff and not customer.is_superuser  # ... the privileges were not
    assert customer.groups.count() == 0 and customer.user_permissions.count() == 0
    assert audit_entries("user.privileges") == []


def test_operations_cannot_set_a_staff_members_password(operations, superuser):
    assert operations.get(password_url(superuser)).status_code == 403
    response = operations.post(
        password_url(superuser),
        {"set_usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.check_password(PASSWORD) and not superuser.check_password(NEW_PASSWORD)
    assert audit_entries("user.password_set") == []


def test_operations_cannot_ban_or_delete_a_staff_member(operations, superuser):
    response = post_action(
        operations, "accounts.user", "ban", [superuser], confirmed="yes", reason="Takeover"
    )
    assert any("only a superuser" in m for m in messages_of(response))
    superuser.refresh_from_db()
    assert not superuser.is_banned
    delete = reverse("admin:accounts_user_delete", args=[superuser.pk])
    assert operations.post(delete, {"post": "yes"}).status_code == 403
    assert type(superuser).objects.filter(pk=superuser.pk).exists()


def test_operations_may_set_a_customers_password_and_it_is_audited(
    operations, operations_user, sale
):
    customer = sale.customer
    response = operations.post(
        password_url(customer),
        {"set_usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    [entry] = audit_entries("user.password_set", customer)
    assert entry.actor == operations_user
    assert NEW_PASSWORD not in str(entry.before) + str(entry.after) + entry.note
    assert customer.password not in str(entry.after)


def test_superuser_sees_and_grants_privileges_and_it_is_audited(root, superuser, sale):
    customer = sale.customer
    assert set(PRIVILEGE_FIELDS) <= set(
        root.get(change_url(customer)).context["adminform"].form.fields
    )
    support = Group.objects.get(name="Support")
    data = form_data(root, customer, is_staff="on", groups=[str(support.pk)])
    response = root.post(change_url(customer), data)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.is_staff and not customer.is_superuser
    assert list(customer.groups.values_list("name", flat=True)) == ["Support"]
    [entry] = audit_entries("user.privileges", customer)
    assert entry.actor == superuser
    assert entry.before["is_staff"] is False and entry.before["groups"] == []
    assert entry.after["is_staff"] is True and entry.after["groups"] == ["Support"]

    # Saving again unchanged records nothing new.
    root.post(change_url(customer), form_data(root, customer))
    assert len(audit_entries("user.privileges", customer)) == 1


def test_superuser_sets_a_staff_members_password_and_it_is_audited(
    root, superuser, operations_user
):
    response = root.post(
        password_url(operations_user),
        {"set_usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    operations_user.refresh_from_db()
    assert operations_user.check_password(NEW_PASSWORD)
    [entry] = audit_entries("user.password_set", operations_user)
    assert entry.actor == superuser


def test_the_service_refuses_a_non_superuser_whoever_calls_it(operations_user, sale):
    from django.core.exceptions import PermissionDenied

    from accounts.privileges import user_set_password_by_staff, user_set_privileges

    with pytest.raises(PermissionDenied):
        user_set_privileges(
            user=sale.customer,
            by=operations_user,
            is_active=True,
            is_staff=True,
            is_superuser=True,
            groups=[],
            user_permissions=[],
        )
    with pytest.raises(PermissionDenied):
        user_set_password_by_staff(user=operations_user, by=operations_user, password="x")


def test_staff_created_by_operations_is_a_customer_and_audited(operations, operations_user):
    response = operations.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "new.person@example.com",
            "first_name": "New",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "is_staff": "on",
            "is_superuser": "on",
        },
    )
    assert response.status_code == 302
    from accounts.models import User

    made = User.objects.get(email="new.person@example.com")
    assert not made.is_staff and not made.is_superuser
    [entry] = audit_entries("user.create", made)
    assert entry.actor == operations_user and entry.after["is_staff"] is False
