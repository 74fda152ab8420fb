from django.urls import path, register_converter

from . import converters, views

register_converter(converters.YearConverter, 'yyyy')

app_name = 'shop'
urlpatterns = [
    path('', views.index, name='index'),
    path('items/', views.item_list, name='items'),
    path('items/<int:item_id>/', views.item_detail, name='item'),
    path('items/<slug:slug>/reviews/', views.reviews, name='reviews'),
    path('archive/<yyyy:year>/', views.archive, name='archive'),
    path('api/items/<int:item_id>/', views.api_item, name='api-item'),
    path('order/', views.order, name='order'),
    path('feed/', views.feed, name='feed'),
    path('logo/', views.logo, name='logo'),
    path('boom/', views.boom, name='boom'),
    path('notes/', views.notes, name='notes'),
    path('echo-meta/', views.echo_meta, name='echo-meta'),
]
