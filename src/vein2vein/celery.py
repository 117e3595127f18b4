"""Celery app: eager in-process without a broker; Redis or RabbitMQ via CELERY_BROKER_URL."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vein2vein.settings")

app = Celery("vein2vein")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
