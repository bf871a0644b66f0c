<?php
// WordPress (Debian's package) as a blog that embeds a bare link: the e2e
// test runs `php wp.php install`, then `php wp.php embed <url>`, which
// publishes a post whose content is that URL on its own line and prints
// the post's rendered content (the_content, where WordPress's oEmbed
// discovery turns the link into an embed) as JSON.
// Environment: WP_SOCKET (MariaDB socket), WP_CONTENT (wp-content folder
// with the mu-plugin), THUMBD_PORT.
define('DB_NAME', 'wp');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:' . getenv('WP_SOCKET'));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('ABSPATH', '/usr/share/wordpress/');
define('WP_CONTENT_DIR', getenv('WP_CONTENT'));
define('WP_HOME', 'http://blog.test');
define('WP_SITEURL', 'http://blog.test');
$table_prefix = 'wp_';
$_SERVER['HTTP_HOST'] = 'blog.test';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
if ($argv[1] === 'install') {
    define('WP_INSTALLING', true);
}
require ABSPATH . 'wp-settings.php';
if ($argv[1] === 'install') {
    require_once ABSPATH . 'wp-admin/includes/upgrade.php';
    // No mail on this machine: the welcome mail fails quietly.
    add_filter('pre_wp_mail', '__return_false');
    $r = wp_install('thumbd test blog', 'admin', 'admin@blog.test', false, '', wp_generate_password());
    echo json_encode(['installed' => isset($r['user_id'])]), "\n";
    exit(0);
}
$id = wp_insert_post(['post_title' => 'Holiday', 'post_status' => 'publish',
    'post_content' => "Before.\n\n" . $argv[2] . "\n\nAfter."]);
$GLOBALS['post'] = get_post($id);
setup_postdata($GLOBALS['post']);
echo json_encode(['wordpress' => get_bloginfo('version'),
    'html' => apply_filters('the_content', $GLOBALS['post']->post_content)]), "\n";
