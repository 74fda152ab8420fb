% rebase('base.tpl', title='Home')
<h1>Hello, {{name}}!</h1><p>at {{path}}</p>
