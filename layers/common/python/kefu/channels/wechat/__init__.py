"""WeChat mini-program channel: push authentication/parsing, message crypto and the server API.

Modules:
    crypto -- signatures and the AES envelope of WeChat's "secure mode".
    push   -- parse and authenticate customer-service message pushes (JSON/XML, plain/secure).
    api    -- client for api.weixin.qq.com (login, tokens, customer-service messages, media).
"""
