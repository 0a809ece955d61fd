<section id="energy"></section>
