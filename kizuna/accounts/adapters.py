from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Self sign-up arrives with the registration policies (members); until then only staff
        # create accounts.
        return False
