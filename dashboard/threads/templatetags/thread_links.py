from django import template

from dashboard.threads.links import user_threads_url

register = template.Library()
register.filter("user_threads_url", user_threads_url)
