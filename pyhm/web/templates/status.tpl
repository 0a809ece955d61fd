<section id="status">
  <h1>Status</h1>
  <div class="card">
    <h2>Acquisition</h2>
    % acq = data['acquisition']
    <p class="{{'ok' if acq.get('running') else 'error'}}">{{'Running' if acq.get('running') else 'Not running'}}
    % if acq.get('last_commit'):
    · last commit <time datetime="{{acq['last_commit']}}">{{acq['last_commit']}}</time>
    % end
    </p>
  </div>
  <div class="card">
    <h2>Read heads</h2>
    % if not data['heads']:
    <p>No head has been seen yet.</p>
    % else:
    <div class="scroll">
    <table class="heads">
      <thead><tr><th scope="col">Head</th><th scope="col">State</th><th scope="col">Meter</th><th scope="col" class="num">Frames ok (1 h)</th><th scope="col" class="num">Bad (1 h)</th><th scope="col" class="num">Bytes skipped (1 h)</th><th scope="col" class="num">Bad message CRCs</th><th scope="col">Last frame</th><th scope="col">Last error</th></tr></thead>
      % for h in data['heads']:
      <tr><td data-label="Head">{{h['serial']}}<br><span class="muted small">{{h['device']}}</span></td><td data-label="State">{{h['state'] if h['present'] else 'unplugged'}}</td><td data-label="Meter" class="small wrap">{{h['meter'] or '–'}}</td>
        <td data-label="Frames ok (1 h)" class="num" data-num="{{h['last_hour']['frames_ok']}}">{{h['last_hour']['frames_ok']}}</td><td data-label="Bad (1 h)" class="num" data-num="{{h['last_hour']['frames_bad']}}">{{h['last_hour']['frames_bad']}}</td><td data-label="Bytes skipped (1 h)" class="num" data-num="{{h['last_hour']['bytes_skipped']}}">{{h['last_hour']['bytes_skipped']}}</td><td data-label="Bad message CRCs" class="num" data-num="{{h['messages_bad']}}">{{h['messages_bad']}}</td>
        <td data-label="Last frame" class="small"><time datetime="{{h['last_frame'] or ''}}">{{h['last_frame'] or '–'}}</time></td><td data-label="Last error" class="small wrap">{{h['last_error'] or ''}}</td></tr>
      % end
    </table>
    </div>
    % end
  </div>
  <div class="card">
    <h2>Database</h2>
    % db = data['database']
    % if db:
    <p class="wrap">{{db['path']}}: <span data-num="{{db['size_bytes'] / 1048576}}" data-digits="1">{{db['size_bytes']}}</span> MiB, <span data-num="{{db['telegrams_rows']}}" data-digits="0">{{db['telegrams_rows']}}</span> telegrams since <time datetime="{{db['oldest_raw'] or ''}}">{{db['oldest_raw'] or '–'}}</time>, schema {{db['schema_version']}}</p>
    % else:
    <p>No database yet.</p>
    % end
    % disk = data.get('disk')
    % if disk:
    <h3>Disk writes</h3>
    <p id="disk-writes">
    % if disk['mib_per_day'] is not None:
    The acquisition writes <span data-num="{{disk['mib_per_day']}}" data-digits="1">{{disk['mib_per_day']}}</span> MiB a day
    (measured since <time datetime="{{disk['since']}}">{{disk['since']}}</time>, committing every {{'%g' % disk['commit_seconds']}} s).
    % end
    {{disk['advice']}}</p>
    % end
  </div>
  <div class="card">
    <h2>Versions</h2>
    <p class="small wrap">{{', '.join(k + ' ' + v for k, v in data['versions'].items())}}</p>
  </div>
</section>
