from django import template

from kizuna.core.navigation import console_menu as build_console_menu

register = template.Library()


@register.inclusion_tag("core/console/_menu.html", takes_context=True)
def console_menu(context):
    return {"menu": build_console_menu(context["request"].path)}
