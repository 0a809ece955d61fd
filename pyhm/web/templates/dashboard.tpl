<section id="dashboard" data-refresh="1">
  <p id="acq-banner" class="banner{{'' if data['acquisition'].get('running') else ' show'}}" role="status">
    Acquisition is not running: the values below are the last ones stored.
  </p>
  % if not data['meters']:
  <div class="card"><h2>No meters yet</h2><p>Plug in an IR read head and point it at a meter's optical port.
  A meter appears here within seconds of its first telegram.</p></div>
  % end
  <div class="cards" id="cards">
  % for m in data['meters']:
    % power = m['power']['value'] if m['power'] else ''
    <article class="card meter" data-meter="{{m['id']}}" data-last="{{m['last_seen'] or ''}}" data-age="{{'' if m['age_s'] is None else m['age_s']}}">
      <h2><a href="/meter/{{m['id']}}">{{m['label']}}</a></h2>
      <p class="stale-note" data-field="stale" role="status" hidden></p>
      <p class="power"><span class="value" data-field="power" data-num="{{power}}" data-digits="0">{{power}}</span> <span class="unit">W</span>
        <span class="direction" data-field="direction">{{'' if not m['power'] else ('export' if m['power']['value'] < 0 else 'import')}}</span></p>
      <p class="phases" data-field="phases">
        % for i, p in enumerate(m['phases']):
        {{' · ' if i else ''}}<span data-num="{{p['value']}}" data-digits="0">{{p['value']}}</span> W
        % end
      </p>
      <dl class="energy">
        <dt>Today</dt><dd><span data-field="today-import" data-num="{{m['today']['import'] if m['today']['import'] is not None else ''}}" data-digits="2" data-scale="1000"></span> kWh in · <span data-field="today-export" data-num="{{m['today']['export'] if m['today']['export'] is not None else ''}}" data-digits="2" data-scale="1000"></span> kWh out</dd>
        <dt>This month</dt><dd><span data-field="month-import" data-num="{{m['month']['import'] if m['month']['import'] is not None else ''}}" data-digits="1" data-scale="1000"></span> kWh in · <span data-field="month-export" data-num="{{m['month']['export'] if m['month']['export'] is not None else ''}}" data-digits="1" data-scale="1000"></span> kWh out</dd>
      </dl>
      <p class="muted small">Last telegram <time data-field="age" data-format="recent" datetime="{{m['last_seen'] or ''}}">{{m['last_seen'] or 'never'}}</time>
        · head <span data-field="head">{{m['head']['serial'] + ' (' + m['head']['state'] + ')' if m['head'] else '–'}}</span></p>
    </article>
  % end
  </div>
</section>
