"""Input no page of closebooks can store or look up: refused once, for every form and filter."""

from django.http import HttpResponseBadRequest
from django.utils.html import escape

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulInputMiddleware:
    """A NUL character (0x00) in a submitted field or query parameter.

    PostgreSQL cannot store it in text nor compare text with it, so any view handing it on
    would answer 500. Django's form fields refuse it, but several pages read a plain field (a
    reason, a confirmation name, an entity id); this answers them all with a clear 400."""

    MESSAGE = "“{name}” contains a NUL character (\\0), which closebooks does not accept. Go back and remove it."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        inspected = [request.GET]
        if request.method == "POST" and request.content_type in FORM_TYPES:
            request.body  # noqa: B018 - read first, so a view may still read the raw body after the form is parsed
            inspected.append(request.POST)
        for params in inspected:
            for name, values in params.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    return HttpResponseBadRequest(
                        escape(self.MESSAGE.format(name=name.replace("\x00", "\\0"))), content_type="text/plain; charset=utf-8"
                    )
        return self.get_response(request)
