"""Settings of the test project: what ``django-admin startproject`` writes, plus the four
lines of the Django tutorial (docs/tutorials/django.md). ``CGSITE_DB`` names the SQLite
file (tests use a temporary one), ``CGSITE_REGISTRY`` another registry (the ``manage.py
check`` test)."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "django-insecure-consentguard-test-project-key"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver", ".demo.test"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "consentguard.django",
    "cgsite",
]

MIDDLEWARE = [
    "consentguard.django.ConsentMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cgsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "consentguard.django.context_processor",
            ],
        },
    },
]

WSGI_APPLICATION = "cgsite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CGSITE_DB") or BASE_DIR / "db.sqlite3",
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CONSENTGUARD = {
    "REGISTRY": os.environ.get("CGSITE_REGISTRY") or BASE_DIR / "cookies.toml",
    "POLICY_URL": "/cookies/",
}
