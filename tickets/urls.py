from django.urls import path

from . import receipt_views, views

app_name = "tickets"

urlpatterns = [
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/<slug:slug>/", views.cart_add, name="cart_add"),
    path("cart/pick/<slug:slug>/", views.cart_pick, name="pick"),
    path("cart/update/<int:competition_id>/", views.cart_update, name="cart_update"),
    path("cart/remove/<int:competition_id>/", views.cart_remove, name="cart_remove"),
    path("cart/code/", views.cart_code, name="cart_code"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/dev-pay/<str:reference>/", views.dev_pay, name="dev_pay"),
    path("checkout/success/<str:reference>/", views.checkout_success, name="success"),
    path("checkout/cancel/<str:reference>/", views.checkout_cancel, name="cancel"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
    path("receipts/keys.json", receipt_views.receipt_keys, name="receipt_keys"),
    path("receipts/<str:reference>.json", receipt_views.receipt_download, name="receipt"),
]
