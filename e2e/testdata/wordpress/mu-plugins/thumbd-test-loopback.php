<?php
// The test blog and thumbd share one machine: let WordPress's "safe" HTTP
// client reach loopback addresses on any port (production blogs fetch
// public hosts and need no such filter).
add_filter('http_request_host_is_external', '__return_true');
add_filter('http_allowed_safe_ports', function ($ports) { $ports[] = (int) getenv('THUMBD_PORT'); return $ports; });
