<section class="narrow card login">
  <h1>pyhm</h1>
  <p class="muted">{{_("Home metering")}}</p>
  % if retry:
  <p class="error" role="alert" id="blocked">{{!_("Too many attempts. Try again in {seconds} seconds.").format(seconds='<span id="countdown" data-seconds="%d">%d</span>' % (retry, retry))}}</p>
  % elif error:
  <p class="error" role="alert">{{_(error)}}</p>
  % end
  <form method="post" action="/login">
    <input type="hidden" name="next" value="{{next}}">
    <label for="password">{{_("Password")}}</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required autofocus maxlength="1024">
    <button type="submit">{{_("Log in")}}</button>
  </form>
  <p class="muted small">{{_("Forgot the password? Set a new one on the pyhm computer:")}} <code>sudo pyhm passwd</code></p>
</section>
