"""The legacy v1 repository API; without a namespace, the repository is in `library`."""

from django.urls import path

from . import api_v1

urlpatterns = [
    path("v1/repositories/<str:namespace>/<str:name>/", api_v1.RepositoryView.as_view()),
    path("v1/repositories/<str:namespace>/<str:name>/images", api_v1.ImagesView.as_view()),
    path("v1/repositories/<str:namespace>/<str:name>/auth", api_v1.AuthView.as_view()),
    path("v1/repositories/<str:name>/", api_v1.LibraryRepositoryView.as_view()),
    path("v1/repositories/<str:name>/images", api_v1.LibraryImagesView.as_view()),
    path("v1/repositories/<str:name>/auth", api_v1.LibraryAuthView.as_view()),
]
