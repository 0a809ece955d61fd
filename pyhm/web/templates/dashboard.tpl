<section id="dashboard" data-refresh="5">
  <p id="acq-banner" class="banner{{'' if data['acquisition'].get('running') else ' show'}}">
    Acquisition is not running: the values below are the last ones stored.
  </p>
  % if not data['meters']:
  <div class="card"><h2>No meters yet</h2><p>Plug in an IR read head and point it at a meter's optical port.
  A meter appears here within seconds of its first telegram.</p></div>
  % end
  <div class="cards" id="cards">
  % for m in data['meters']:
    <article class="card meter" data-meter="{{m['id']}}">
      <h2><a href="/meter/{{m['id']}}">{{m['label']}}</a></h2>
      <p class="power"><span class="value" data-field="power">{{fmt(m['power']['value'] if m['power'] else None)}}</span> <span class="unit">W</span>
        <span class="direction" data-field="direction">{{'' if not m['power'] else ('export' if m['power']['value'] < 0 else 'import')}}</span></p>
      <p class="phases" data-field="phases">{{' · '.join(fmt(p['value']) + ' W' for p in m['phases'])}}</p>
      <dl class="energy">
        <dt>Today</dt><dd><span data-field="today-import">{{fmt(m['today']['import'], 2, 1000)}}</span> kWh in · <span data-field="today-export">{{fmt(m['today']['export'], 2, 1000)}}</span> kWh out</dd>
        <dt>This month</dt><dd><span data-field="month-import">{{fmt(m['month']['import'], 1, 1000)}}</span> kWh in · <span data-field="month-export">{{fmt(m['month']['export'], 1, 1000)}}</span> kWh out</dd>
      </dl>
      <p class="muted small">Last telegram <span data-field="age">{{'never' if m['age_s'] is None else fmt(m['age_s']) + ' s ago'}}</span>
        · head <span data-field="head">{{m['head']['serial'] + ' (' + m['head']['state'] + ')' if m['head'] else '–'}}</span></p>
    </article>
  % end
  </div>
</section>
