import json

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


def index(request):
    return HttpResponse("hello from django, csrf=%d" % len(get_token(request)))


@csrf_exempt
def form(request):
    return JsonResponse({"name": request.POST["name"], "path": request.path, "script": request.META["SCRIPT_NAME"]})


@csrf_exempt
def api(request):
    return JsonResponse({"got": json.loads(request.body), "method": request.method})


@csrf_exempt
def upload(request):
    f = request.FILES["file"]
    return JsonResponse({"filename": f.name, "size": f.size})


def stream(request):
    return StreamingHttpResponse(("part %d\n" % i for i in range(3)), content_type="text/plain")


urlpatterns = [
    path("", index),
    path("form/", form),
    path("api/", api),
    path("upload/", upload),
    path("stream/", stream),
]
