<section class="narrow card">
  <h1>{{heading}}</h1>
  <p>{{message}}</p>
  <p><a href="/">{{_("Back to the meters")}}</a></p>
</section>
