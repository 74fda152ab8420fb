from pathlib import Path

from django.http import (
    FileResponse, Http404, HttpResponseRedirect, JsonResponse, StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from .forms import OrderForm
from .models import Note

ITEMS = {
    1: {'name': 'Teapot', 'price': '12.50', 'tags': ['kitchen', 'tea']},
    2: {'name': 'Café crème cup', 'price': '4.00', 'tags': ['kitchen']},
    3: {'name': 'Kettle', 'price': '30.00', 'tags': []},
}

STATIC = Path(__file__).resolve().parent / 'static' / 'shop'


def index(request):
    return render(request, 'shop/index.html', {'items': ITEMS, 'who': request.GET.get('who', 'stranger')})


def item_list(request):
    tag = request.GET.get('tag')
    items = {k: v for k, v in ITEMS.items() if tag is None or tag in v['tags']}
    return render(request, 'shop/items.html', {'items': items, 'tag': tag})


def item_detail(request, item_id):
    if item_id not in ITEMS:
        raise Http404('no such item')
    return render(request, 'shop/item.html', {'item': ITEMS[item_id], 'item_id': item_id})


def reviews(request, slug):
    return render(request, 'shop/reviews.html', {'slug': slug})


def archive(request, year):
    return JsonResponse({'year': year, 'next': reverse('shop:archive', args=[year + 1])})


def api_item(request, item_id):
    if item_id not in ITEMS:
        return JsonResponse({'error': 'not found', 'id': item_id}, status=404)
    return JsonResponse({'id': item_id, **ITEMS[item_id], 'url': request.build_absolute_uri()})


def order(request):
    if request.method == 'POST':
        form = OrderForm(request.POST)
        if form.is_valid():
            return render(request, 'shop/ordered.html', {'order': form.cleaned_data})
        return render(request, 'shop/ordered.html', {'errors': form.errors}, status=400)
    return render(request, 'shop/order.html', {'form': OrderForm()})


def feed(request):
    count = int(request.GET.get('n', '5'))

    def lines():
        for i in range(count):
            yield f'line {i}\n'.encode()

    return StreamingHttpResponse(lines(), content_type='text/plain; charset=utf-8')


def logo(request):
    return FileResponse(open(STATIC / 'logo.txt', 'rb'), content_type='text/plain')


def boom(request):
    raise RuntimeError('the shop is on fire')


@csrf_exempt  # a JSON API for scripts, not a browser form: no CSRF token to send
def notes(request):
    if request.method == 'POST':
        Note.objects.create(text=request.POST['text'])
        return HttpResponseRedirect(reverse('shop:notes'))
    return JsonResponse({'notes': [n.text for n in Note.objects.order_by('id')]})


def echo_meta(request):
    return JsonResponse({
        'path': request.path,
        'path_info': request.path_info,
        'script_name': request.META.get('SCRIPT_NAME', ''),
        'host': request.get_host(),
        'secure': request.is_secure(),
        'index': reverse('shop:index'),
    })
