% rebase('base.tpl', title='Form')
<form method="post" action="{{action}}"><input name="comment"></form>
