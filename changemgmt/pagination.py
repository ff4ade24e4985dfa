from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import LimitOffsetPagination


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """Limit/offset with a ceiling: a huge `?limit=` or `?offset=` is clamped, never a 500."""

    max_limit = 1000
    max_offset = 10**9

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)


class CappedCountPaginator(Paginator):
    """A page of a long list without counting all of it.

    COUNT(*) over a million audit records is a sequential scan (160 ms on PostgreSQL); pages
    only need to know whether there are more than they can show. Counting stops past `cap` rows,
    and the page says "1,000+" past it — filters narrow a list that long.
    """

    cap = 1_000

    @cached_property
    def count(self):
        return self.object_list[: self.cap + 1].count()

    @property
    def is_capped(self) -> bool:
        return self.count > self.cap

    @property
    def count_label(self) -> str:
        return f"{self.cap:,}+" if self.is_capped else f"{self.count:,}"
