% if meter is None:
<section class="card">
  <h1>{{_("Energy")}}</h1>
  <p>{{_("No meter has sent anything yet.")}}</p>
</section>
% else:
<section id="energy" data-meter="{{meter.id}}" data-period="{{period}}" data-date="{{date}}">
  <div class="energy-head">
    <h1>{{_("Energy")}}</h1>
    % if len(meters) > 1:
    <label>{{_("Meter")}} <select id="energy-meter">
      % for m in meters:
      <option value="{{m.id}}" {{'selected' if m.id == meter.id else ''}}>{{m.label}}</option>
      % end
    </select></label>
    % else:
    <p class="muted">{{meter.label}}</p>
    % end
  </div>
  <div class="card">
    <div class="toolbar">
      <div class="presets" role="group" aria-label="{{_('Period')}}">
        <button type="button" data-period="day" aria-pressed="false">{{_("Day")}}</button><button type="button" data-period="week" aria-pressed="false">{{_("Week")}}</button><button type="button" data-period="month" aria-pressed="false">{{_("Month")}}</button><button type="button" data-period="year" aria-pressed="false">{{_("Year")}}</button>
      </div>
      <div class="steps"><button type="button" id="energy-back" aria-label="{{_('Previous period')}}">◀</button><button type="button" id="energy-now">{{_("Now")}}</button><button type="button" id="energy-fwd" aria-label="{{_('Next period')}}">▶</button></div>
    </div>
    <h2 id="energy-title" aria-live="polite">&nbsp;</h2>
    <dl class="energy-totals">
      <div class="import"><dt><span class="swatch in" aria-hidden="true"></span>{{_("Import")}}</dt><dd><span data-total="import">–</span> <span class="unit">kWh</span></dd><dd class="small muted" data-cost="import"></dd></div>
      <div class="export"><dt><span class="swatch out" aria-hidden="true"></span>{{_("Export")}}</dt><dd><span data-total="export">–</span> <span class="unit">kWh</span></dd><dd class="small muted" data-cost="export"></dd></div>
      <div class="net"><dt>{{_("Net")}}</dt><dd><span data-total="net">–</span> <span class="unit">kWh</span></dd><dd class="small muted">{{_("import minus export")}}</dd></div>
    </dl>
    <div id="energy-chart" class="chart" data-bars="0" role="img" aria-label="{{_('Import above and export below the line; the same data is in the table below')}}"></div>
    <p class="muted small" id="energy-info"></p>
    <details id="energy-data"><summary>{{_("The bars as a table")}}</summary><div class="scroll"><table id="energy-table"></table></div></details>
  </div>
  <div class="energy-grid">
    <div class="card compare" id="energy-previous">
      <h2 data-field="title">{{_("Previous period")}}</h2>
      <p class="muted small" data-field="range"></p>
      <dl class="energy-compare"></dl>
      <p class="muted small" data-field="note"></p>
    </div>
    <div class="card compare" id="energy-last-year">
      <h2 data-field="title">{{_("Same period last year")}}</h2>
      <p class="muted small" data-field="range"></p>
      <dl class="energy-compare"></dl>
      <p class="muted small" data-field="note"></p>
    </div>
    <div class="card" id="energy-base">
      <h2>{{_("Base load")}}</h2>
      <p class="power"><span class="value" data-field="watts">–</span> <span class="unit">W</span></p>
      <p data-field="year"></p>
      <p class="muted small">{{_("The lowest hourly power between 00:00 and 05:00, the median over the nights of this period: what runs all the time.")}}</p>
    </div>
  </div>
</section>
% end
