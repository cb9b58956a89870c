"""Django's own ASGI handler, configured in code; views and URLs are in ``django_urls``."""

from __future__ import annotations

import os
from pathlib import Path

import django
from django.conf import settings

STATE_DIR = Path(os.environ.get("FW_STATE_DIR", "."))

settings.configure(
    DEBUG=False,
    SECRET_KEY="asgibench-frameworks-test-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF="django_urls",
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ],
    # Never migrated: GETting the admin login page must not need any table.
    DATABASES={
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": STATE_DIR / "db.sqlite3"}
    },
    USE_TZ=True,
    STATIC_URL="/static/",
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402  (needs settings first)

application = get_asgi_application()
