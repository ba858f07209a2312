"""Signed entry receipts on the web: the published keys (`/receipts/keys.json`) and a
customer's download of one receipt (`/receipts/<reference>.json`), which only its owner and
staff may fetch."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from . import receipts
from .models import Receipt
from .selectors import receipt_keys_published


@require_safe
def receipt_keys(request):
    """The operator's receipt-signing public keys, current and retired, with when each was valid:
    what `verify_draw.py --receipt` checks a receipt's signature against."""
    body = {
        "format": "fairdraw.receipt-keys",
        "version": receipts.VERSION,
        "algorithm": "Ed25519",
        "keys": [key.as_json() for key in receipt_keys_published()],
    }
    response = JsonResponse(body, json_dumps_params={"indent": 2})
    response["Cache-Control"] = "public, max-age=60"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@login_required
@require_safe
def receipt_download(request, reference):
    receipt = Receipt.objects.filter(reference=reference).first()
    if receipt is None or not (receipt.user_id == request.user.pk or request.user.is_staff):
        raise Http404("No such receipt.")
    body = json.dumps(receipt.document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    response = HttpResponse(body.encode(), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="fairdraw-receipt-{reference}.json"'
    response["Cache-Control"] = "private, no-store"
    return response
