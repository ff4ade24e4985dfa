"""Posting the Django admin's forms as a browser does."""


def form_data(client, url, **changes):
    """The admin form as the page shows it, with `changes` typed over it (a browser's POST)."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
        if form.fields[name].show_hidden_initial:  # fields with a callable default
            data[form[name].html_initial_name] = value
    return {**data, **changes}
