from django.core.management.base import BaseCommand

from changemgmt.killswitches.document import render_yaml


class Command(BaseCommand):
    help = "Print the current kill-switch policy as gateway-policies/kill-switches.yaml."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="Write to this file instead of stdout.")

    def handle(self, *args, output=None, **options):
        text = render_yaml()
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            self.stdout.write(text, ending="")
