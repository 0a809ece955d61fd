<section class="narrow card login">
  <h1>pyhm</h1>
  <p class="muted">Home metering</p>
  % if error:
  <p class="error" role="alert">{{error}}</p>
  % end
  <form method="post" action="/login">
    <input type="hidden" name="next" value="{{next}}">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required autofocus maxlength="1024">
    <button type="submit">Log in</button>
  </form>
</section>
