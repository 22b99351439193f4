import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { escapeHtml, renderMarkdown } from "../markdown";

describe("markdown", () => {
  it("escapes every piece of HTML the model writes", () => {
    const html = renderMarkdown('<script>alert(1)</script> **<img src=x onerror="y">**');
    assert.ok(!html.includes("<script>"));
    assert.ok(!html.includes("<img"));
    assert.match(html, /&lt;script&gt;/);
    assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
  });

  it("renders fenced code with its language, unformatted", () => {
    const html = renderMarkdown("Use this:\n\n```python\ndef f(a, b):\n    return a * b  # **not bold**\n```\n");
    assert.match(html, /<p>Use this:<\/p>/);
    assert.match(html, /<pre><code class="language-python">def f\(a, b\):\n    return a \* b  # \*\*not bold\*\*<\/code><\/pre>/);
  });

  it("renders an unclosed fence (a streaming answer) as code to the end", () => {
    assert.equal(renderMarkdown("```js\nlet x = 1;"), '<pre><code class="language-js">let x = 1;</code></pre>');
  });

  it("renders headings, lists, quotes, emphasis, inline code and safe links", () => {
    const html = renderMarkdown(
      "# Title\n\n- one `a<b`\n- **two**\n\n1. first\n2. *second*\n\n> quoted\n\n[docs](https://example.org/x) [bad](javascript:alert(1))",
    );
    assert.match(html, /<h1>Title<\/h1>/);
    assert.match(html, /<ul><li>one <code>a&lt;b<\/code><\/li><li><strong>two<\/strong><\/li><\/ul>/);
    assert.match(html, /<ol><li>first<\/li><li><em>second<\/em><\/li><\/ol>/);
    assert.match(html, /<blockquote><p>quoted<\/p><\/blockquote>/);
    assert.match(html, /<a href="https:\/\/example.org\/x">docs<\/a>/);
    assert.ok(!html.includes('href="javascript'));
  });

  it("does not treat snake_case words as emphasis", () => {
    assert.equal(renderMarkdown("call my_func_name now"), "<p>call my_func_name now</p>");
  });
});
