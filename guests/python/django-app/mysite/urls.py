"""
URL configuration for mysite project.
"""
from django.urls import include, path

urlpatterns = [
    path('shop/', include('shop.urls')),
]
