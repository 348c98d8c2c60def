"""The blog cache's families: what one write drops together (shared by the API and the pages)."""

ALL_LISTS = "lists"  # every list of posts: the API's, the pages', the author pages', the feed, the sitemap
CATEGORIES = "categories"


def category_lists(slug: str) -> str:
    """One category's lists (the API's, its pages' and its feed)."""
    return f"lists:{slug}"


def post(post_id: int) -> str:
    """One post: the API's answer and its page."""
    return f"post:{post_id}"
