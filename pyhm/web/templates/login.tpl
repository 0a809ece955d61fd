<section class="narrow card login">
  <h1>pyhm</h1>
  <p class="muted">Home metering</p>
  % if retry:
  <p class="error" role="alert" id="blocked">Too many attempts. Try again in <span id="countdown" data-seconds="{{retry}}">{{retry}}</span> seconds.</p>
  % elif error:
  <p class="error" role="alert">{{error}}</p>
  % end
  <form method="post" action="/login">
    <input type="hidden" name="next" value="{{next}}">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required autofocus maxlength="1024">
    <button type="submit">Log in</button>
  </form>
  <p class="muted small">Forgot the password? Set a new one on the pyhm computer: <code>sudo pyhm passwd</code></p>
</section>
