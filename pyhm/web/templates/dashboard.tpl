<section id="dashboard" data-refresh="1">
  <p id="acq-banner" class="banner{{'' if data['acquisition'].get('running') else ' show'}}" role="status">
    {{_("Acquisition is not running: the values below are the last ones stored.")}}
  </p>
  % if not data['meters']:
  <div class="card"><h2>{{_("No meters yet")}}</h2><p>{{_("Plug in an IR read head and point it at a meter's optical port. A meter appears here within seconds of its first telegram.")}}</p></div>
  % end
  % flows = {'in': _("Importing from the grid"), 'out': _("Exporting to the grid"), 'zero': _("Nothing from or to the grid"), 'none': _("No power reading")}
  % marks = {'in': '↓', 'out': '↑', 'zero': '', 'none': ''}
  % def flow(p):
  %   return 'none' if p is None else ('in' if p['value'] > 0 else ('out' if p['value'] < 0 else 'zero'))
  % end
  % def kwh(v):
  %   return '' if v is None else v
  % end
  <div class="cards" id="cards">
  % for m in data['meters']:
    % way = flow(m['power'])
    <article class="card meter flow-{{way}}" data-meter="{{m['id']}}" data-last="{{m['last_seen'] or ''}}" data-age="{{'' if m['age_s'] is None else m['age_s']}}">
      <header class="meter-head">
        <h2><a href="/meter/{{m['id']}}">{{m['label']}}</a></h2>
        <p class="age"><span class="dot" aria-hidden="true"></span><time data-field="age" data-format="recent" datetime="{{m['last_seen'] or ''}}">{{m['last_seen'] or _("never")}}</time>
          <span data-field="ago"></span></p>
      </header>
      <p class="stale-note" data-field="stale" role="status" hidden></p>
      <div class="now">
        <p class="direction"><svg class="arrow" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3v16M5 12l7 7 7-7"/></svg><span data-field="direction">{{flows[way]}}</span></p>
        <p class="power"><span class="value" data-field="power" data-num="{{'' if m['power'] is None else abs(m['power']['value'])}}" data-digits="0"></span><span class="unit">W</span></p>
      </div>
      <figure class="spark">
        <svg data-field="spark" viewBox="0 0 600 100" preserveAspectRatio="none" role="img" aria-label="{{_("Power over the last hour")}}"></svg>
        <figcaption><span>{{_("Last hour")}}</span><span data-field="peaks"></span></figcaption>
      </figure>
      <ul class="phases" data-field="phases">
        % for p in m['phases']:
        <li class="flow-{{flow(p)}}"><span class="phase">{{p['phase']}}</span> <span class="mark" aria-hidden="true">{{marks[flow(p)]}}</span><span data-num="{{abs(p['value'])}}" data-digits="0"></span> W</li>
        % end
      </ul>
      <div class="today">
        <div class="flow in">
          <h3>{{_("Import today")}}</h3>
          <p class="kwh"><span data-field="today-import" data-num="{{kwh(m['today']['import'])}}" data-digits="2" data-scale="1000"></span> kWh</p>
          <p class="delta" data-field="delta-import"></p>
        </div>
        <div class="flow out">
          <h3>{{_("Export today")}}</h3>
          <p class="kwh"><span data-field="today-export" data-num="{{kwh(m['today']['export'])}}" data-digits="2" data-scale="1000"></span> kWh</p>
          <p class="delta" data-field="delta-export"></p>
        </div>
      </div>
      % month = '<span data-field="month-{0}" data-num="{1}" data-digits="1" data-scale="1000"></span>'
      <p class="month">{{!_("This month: {imported} kWh import · {exported} kWh export").format(imported=month.format("import", kwh(m['month']['import'])), exported=month.format("export", kwh(m['month']['export'])))}}</p>
      <p class="head-line"{{'' if m['head'] else ' hidden'}}>{{_("Read head")}} <span data-field="head">{{m['head']['serial'] + ' (' + _(m['head']['state']) + ')' if m['head'] else ''}}</span></p>
    </article>
  % end
  </div>
</section>
