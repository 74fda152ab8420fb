from django import forms


class OrderForm(forms.Form):
    item = forms.CharField(max_length=50)
    quantity = forms.IntegerField(min_value=1, max_value=99)
    note = forms.CharField(required=False, widget=forms.Textarea)
