"""Uploaded media served by the app itself: production on a single machine with no bucket.

With AWS_STORAGE_BUCKET_NAME set, media live on S3 and this is not used. Without it, nothing
else serves MEDIA_ROOT once DEBUG is off (WhiteNoise only knows the files present at start-up,
so it cannot serve uploads). Upload names are never reused (the storage adds a suffix rather
than overwrite), so browsers and a CDN may keep a file for a day.
"""

from django.utils.cache import patch_cache_control
from django.views.static import serve

MEDIA_MAX_AGE = 60 * 60 * 24


def serve_media(request, path, document_root=None):
    response = serve(request, path, document_root=document_root)
    if response.status_code == 200:
        patch_cache_control(response, public=True, max_age=MEDIA_MAX_AGE)
        # An upload is never run as a page, whatever is inside it.
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
