"""The OpenAPI schema generator, with the one thing drf-spectacular leaves out: a list body's
cap. `Serializer(many=True, max_length=N)` refuses an N+1st item, and the schema says so
(`maxItems`), so a client generated from it knows the limit before the server refuses it."""

from drf_spectacular import openapi
from drf_spectacular.plumbing import is_list_serializer


class AutoSchema(openapi.AutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        return _with_item_limits(schema, field)

    def _unwrap_list_serializer(self, serializer, direction):
        schema = super()._unwrap_list_serializer(serializer, direction)
        return _with_item_limits(schema, serializer)


def _with_item_limits(schema, field):
    if isinstance(schema, dict) and is_list_serializer(field) and schema.get("type") == "array":
        if field.max_length is not None:
            schema["maxItems"] = field.max_length
        if field.min_length is not None:
            schema["minItems"] = field.min_length
    return schema
