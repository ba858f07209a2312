"""`manage.py receipt_key [KEY_ID]`: a new Ed25519 key for signing entry receipts."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tickets import receipts


class Command(BaseCommand):
    help = (
        "Generate a new Ed25519 receipt-signing key and print the FAIRDRAW_RECEIPT_KEYS line. "
        "To rotate, put the new entry first and keep the old ones after it."
    )

    def add_arguments(self, parser):
        parser.add_argument("key_id", nargs="?", help="default: fairdraw-<today>")

    def handle(self, *args, key_id=None, **options):
        key_id = key_id or f"fairdraw-{timezone.now():%Y-%m-%d}"
        try:
            key = receipts.new_key(key_id)
        except receipts.ReceiptKeyError as error:
            raise CommandError(str(error)) from None
        entry = receipts.key_entry(key)
        try:
            current = receipts.signing_keys()
        except receipts.ReceiptKeyError:
            current = ()
        keep = [receipts.key_entry(k) for k in current if not k.is_development]
        self.stderr.write(
            f"Public key (published at /receipts/keys.json once it signs): {key.public_key}\n"
            "Keep the private key secret (a secrets manager, or FAIRDRAW_RECEIPT_KEYS_FILE). "
            "To rotate, list the new key first and keep the old ones after it:"
        )
        self.stdout.write("FAIRDRAW_RECEIPT_KEYS=" + ",".join([entry, *keep]))
