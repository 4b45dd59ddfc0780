"""The one read pipeline, and the two kinds of source as the Airbyte protocol drives them."""
