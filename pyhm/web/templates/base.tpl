<!doctype html>
<html lang="{{lang.tag}}" data-tz="{{tz}}" data-stale="{{stale}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/uPlot.min.css">
<link rel="stylesheet" href="/static/style.css">
<script src="/static/uPlot.iife.min.js" defer></script>
<script src="/static/app.js" defer></script>
<script src="/static/energy.js" defer></script>
<script type="application/json" id="i18n">{{!script_text}}</script>
</head>
<body>
% if nav:
<header class="top">
  <a class="brand" href="/">pyhm</a>
  <nav><a href="/">{{_("Meters")}}</a><a href="/energy">{{_("Energy")}}</a><a href="/status">{{_("Status")}}</a></nav>
  <form method="post" action="/logout"><button class="link">{{_("Log out")}}</button></form>
</header>
% end
<main>
{{!body}}
</main>
</body>
</html>
