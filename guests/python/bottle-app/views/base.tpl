<!doctype html>
<title>{{title or 'Bottle'}}</title>
<main>{{!base}}</main>
