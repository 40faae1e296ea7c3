"""Forum, Q&A and comment-list layouts: the posts a main-content extractor would throw away.

A main-content extractor keeps the one block of a page that looks like an article and drops the rest
as comments; on a forum thread or a Q&A page the answers are the content (and the math lives in
them). A thread is recognized by the post-body markup of the common engines and of schema.org, and
its posts are read in page order. Comments are the content only where a page has nothing else.
"""

from __future__ import annotations

from resiliparse.extract.html2text import extract_plain_text

from megamath.web.math.dom import matching

# The element holding one post's text, per engine (each writes it for every post of a thread).
_THREAD_POST_BODIES = (
    '.js-post-body', '.comment-copy',                   # Stack Exchange: question, answers, comments
    '.cooked', '.crawler-post .post',                   # Discourse: app, crawler view
    '.message-body', '.messageText',                    # XenForo 2, XenForo 1
    '[id^="post_message_"]', '.js-post__content-text',  # vBulletin 3-4, vBulletin 5
    'div.postbody div.content',                         # phpBB 3
    '[data-role="commentContent"]',                     # Invision Community
    'div.inner[id^="msg_"]',                            # Simple Machines
    '.post_body',                                       # MyBB
    '.bbp-reply-content', '.bbp-topic-content',         # bbPress
    '.Post-body', '[component="post/content"]',         # Flarum, NodeBB
    '.Message.userContent', '.wpforo-post-content',     # Vanilla, wpForo
    '.dwqa-question-content', '.dwqa-answer-content',   # DW Question & Answer
    '.usertext-body', 'td.t_f', '.d_post_content',      # Reddit (old), Discuz!, Baidu Tieba
    '[data-test-id="post-content"] [data-click-id="text"]', '.Comment .RichTextJSON-root',  # Reddit (2018)
    'shreddit-post [slot="text-body"]', 'shreddit-comment [slot="comment"]',               # Reddit (2023)
    '[data-testid="markdown-body"]', '.js-comment-body',  # GitHub issues and discussions
    '.postbody .post-entry',                            # Forumotion
    '[itemtype*="DiscussionForumPosting"] [itemprop="text"]', '[itemtype*="schema.org/Answer"] [itemprop="text"]',
    '[itemtype*="DiscussionForumPosting"] [itemprop="articleBody"]',
    '[itemtype*="schema.org/Question"] [itemprop="text"]',
    '.post-message', '.post_message', '.forum-post-content', '.topic-content', '.reply-content',
)
THREAD_POSTS = ", ".join(_THREAD_POST_BODIES)
COMMENTS = ('.comment-content, .comment-text, .comment_text, .commentContent, '
            '[itemtype*="schema.org/Comment"] [itemprop="text"]')
_MIN_POSTS = 2


def thread_posts(document) -> list:
    """The post bodies of a forum or Q&A thread, in page order ([] when the page is not a thread)."""
    return outermost(matching(document, THREAD_POSTS))


def comments(document) -> list:
    return outermost(matching(document, COMMENTS))


def outermost(matches: list, minimum: int = _MIN_POSTS) -> list:
    """The elements of ``matches`` (in page order) not inside another, when there are ``minimum`` or more."""
    if len(matches) < minimum:
        return []
    posts, last = [], None
    for node in matches:  # page order: a match inside the previous kept one is part of that post
        if last is not None and _inside(node, last):
            continue
        posts.append(node)
        last = node
    return posts if len(posts) >= minimum else []


def _inside(node, ancestor) -> bool:
    parent = node.parent
    while parent is not None:
        if parent == ancestor:
            return True
        parent = parent.parent
    return False


def posts_text(document, posts: list) -> str:
    """The thread's title (its first heading) and each post's text, in page order."""
    parts = []
    heading = document.query_selector("h1")
    if heading is not None and not any(_inside(heading, post) for post in posts):
        parts.append(" ".join(heading.text.split()))
    for post in posts:
        text = extract_plain_text(post.html, preserve_formatting=True, main_content=False, list_bullets=True,
                                  alt_texts=True, links=False, noscript=False).strip()
        if text:
            parts.append(text)
    return "\n\n".join(parts)
